export type { IpSet, IpSetMember } from './model.js';
export { parseIpset } from './parse-ipset.js';
