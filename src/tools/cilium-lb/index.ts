export { parseCiliumServiceList } from './parse-service-list.js';
export { parseCiliumLbList } from './parse-lb-list.js';
export { parseL3n4, parseFlagWords, protoFromString, IANA_PROTO, type L3n4 } from './l3n4.js';
