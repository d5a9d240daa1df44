export { parseIpLink } from './parse-link.js';
export { parseIpAddr } from './parse-addr.js';
export { parseIpRoute, renderRoute } from './parse-route.js';
export { parseIpRule, renderRule } from './parse-rule.js';
export { parseIpNeigh, parseIpNetnsList } from './parse-neigh.js';
export * from './schema.js';
