export { parseMapDump, type RawEntry, type DumpResult } from './dump.js';
export { decodeLbMaps, lbMapDumpSpec, LB_MAP_NAMES, type LbMapDumps, type LbLayout } from './lb-maps.js';
