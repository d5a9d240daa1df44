export { parseIpLink, parseIpAddr } from './parse-link.js';
export { parseIpRoute, renderRoute } from './parse-route.js';
export { parseIpRule, parseIpNeigh, parseIpNetnsList, renderRule } from './parse-rule.js';
