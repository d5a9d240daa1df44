export { parseWgDump } from './parse-dump.js';
export { redactWgDump, REDACTED } from './redact.js';
