export { parseTcFilter, renderTcFilter } from './parse-filter.js';
export { parseTcQdisc, renderTcQdisc } from './parse-qdisc.js';
export type { TcQdisc } from './parse-qdisc.js';
