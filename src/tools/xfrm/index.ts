export { parseXfrmPolicy, parseXfrmState } from './parse.js';
export { redactXfrm, REDACTED } from './redact.js';
