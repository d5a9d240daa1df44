export { parseUname, kernelVersion } from './parse-uname.js';
