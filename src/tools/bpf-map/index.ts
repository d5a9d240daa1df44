export { parseMapDump, type RawEntry, type DumpResult } from './dump.js';
export { decodeLbMaps, LB_MAP_NAMES, type LbMapDumps, type LbLayout } from './lb-maps.js';
