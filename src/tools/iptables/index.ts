export { parseIptablesSave, tokenize } from './parse-iptables.js';
export { applyIptablesRestore } from './restore.js';
