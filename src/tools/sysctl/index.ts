export { parseSysctl } from './parse-sysctl.js';
