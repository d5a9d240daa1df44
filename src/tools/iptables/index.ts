export { parseIptablesSave, tokenize } from './parse-iptables.js';
