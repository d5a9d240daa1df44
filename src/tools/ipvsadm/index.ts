export { ipvsVipsFromAddrs, parseIpvsadm, type IpvsOptions } from './parse-ipvsadm.js';
