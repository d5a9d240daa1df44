export {
  parseConntrack,
  parseConntrackFull,
  parseConntrackLine,
  natOf,
  ntopV6,
  isPortProto,
  CtAddrs,
} from './parse.js';
export {
  scanConntrack,
  scanConntrackText,
  ConntrackScanner,
  cheapView,
  countNl,
  dnatSkip,
  plainNatLess,
  matchesEntry,
  matchesView,
  viewOf,
} from './scan.js';
export type { ConntrackQuery, ScanOptions, ScanResult } from './scan.js';
