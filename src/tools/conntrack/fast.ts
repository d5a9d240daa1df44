import type { ConntrackEntry, CtFlag, CtTuple } from '../../model/conntrack.js';
import { plainV4At } from '../../model/addr.js';
import { ev } from '../common.js';
import { REC } from '../text/byte-search.js';

/**
 * The usual shape of a `conntrack -L` IPv4 entry read in place, without words, a Map or regular expressions:
 *
 *   [ipv4 2] tcp|udp|udplite|sctp|dccp|icmp N [timeout] [STATE] <tuple> [[UNREPLIED]] <tuple>
 *   then, in any order and each at most once: [ASSURED] [OFFLOAD] [HW_OFFLOAD] mark= secmark= zone= delta-time= use= id=
 *   <tuple> = src=<dotted quad> dst=<dotted quad> (sport= dport= | type= code= id=) [packets= bytes=]
 *
 * Numbers follow parseConntrackLine's rules (digits only, its length and range limits). readFast answers false for
 * anything else (IPv6, zones, helpers, labels, time stamps, another order, a value out of range, any odd byte): the
 * caller then hands the line to parseConntrackLine, which decides. So the entry built here is the one
 * parseConntrackLine builds, key order included (test/tools/conntrack/fast.test.ts compares the two).
 *
 * The line's fields land in the module-level scratch below (one line at a time, per thread): a count needs
 * no object at all (fastDnat), and an entry is built only for a line that is kept (fastEntry).
 */

enum P {
  tcp,
  udp,
  udplite,
  sctp,
  dccp,
  icmp,
}
const PROTO_NAME = ['tcp', 'udp', 'udplite', 'sctp', 'dccp', 'icmp'];
const PROTO_NUM = [6, 17, 136, 132, 33, 1];
const FLAG: CtFlag[] = ['ASSURED', 'OFFLOAD', 'HW_OFFLOAD'];
const FLAG_TOKEN = ['[ASSURED]', '[OFFLOAD]', '[HW_OFFLOAD]'];
const U32 = 0xffffffff;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// ---- scratch: the last line readFast accepted ----
let proto: P = P.tcp;
let timeout = -1;
let stateS = -1;
let stateE = -1;
/** per tuple k (0 original, 1 reply): src, dst bounds; three l4 numbers; packets, bytes (-1: absent) */
const addr = new Int32Array(8);
const l4 = new Float64Array(6);
const acct = new Float64Array(4);
let unreplied = false;
/** the flags after the reply, in order (indices into FLAG) */
const flagOrder = [0, 0, 0];
let flagCount = 0;
/** mark, secmark, zone, delta-time, use, id (-1: absent) */
const meta = new Float64Array(6);
const META_KEY = ['mark=', 'secmark=', 'zone=', 'delta-time=', 'use=', 'id='];
const META_LEN = [10, 10, 10, 20, 10, 10];
const META_MAX = [U32, U32, 65535, MAX_SAFE, U32, U32];
let lineEnd = 0;
/** end of the last token tuple() read */
let tupleEnd = 0;

/** parseConntrackLine's digits(): 1..len decimal digits, value at most max; -1 otherwise. */
function digitsAt(t: string, s: number, e: number, len: number, max: number): number {
  const n = e - s;
  if (n === 0 || n > len) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = t.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v <= max ? v : -1;
}

/** End of the token at i: the next space, or le. (A loop: tokens are short, a call to indexOf costs more.) */
function tokEnd(t: string, i: number, le: number): number {
  while (i < le && t.charCodeAt(i) !== 32) i++;
  return i;
}

/** t holds `word` at i (the words are constants: a loop the compiler inlines, not a call to startsWith) */
function hasAt(t: string, i: number, word: string): boolean {
  const n = word.length;
  for (let j = 0; j < n; j++) if (t.charCodeAt(i + j) !== word.charCodeAt(j)) return false;
  return true;
}

/** Start of the next token after a token ending at e (spaces skipped); le when none. */
function skipSp(t: string, e: number, le: number): number {
  while (e < le && t.charCodeAt(e) === 32) e++;
  return e;
}

function isToken(t: string, s: number, e: number, word: string): boolean {
  return e - s === word.length && hasAt(t, s, word);
}

/** `key=value` at s (token ends at e) with a number value; -1 when the key differs or the value is not valid */
function keyNum(t: string, s: number, e: number, key: string, len: number, max: number): number {
  if (!hasAt(t, s, key)) return -1;
  return digitsAt(t, s + key.length, e, len, max);
}

/**
 * Reads one tuple starting at token i; returns the index after it, or -1. k: 0 original, 1 reply.
 */
function tuple(t: string, i: number, le: number, k: number): number {
  let e = tokEnd(t, i, le);
  if (!hasAt(t, i, 'src=') || !plainV4At(t, i + 4, e)) return -1;
  addr[k * 4] = i + 4;
  addr[k * 4 + 1] = e;
  i = skipSp(t, e, le);
  e = tokEnd(t, i, le);
  if (!hasAt(t, i, 'dst=') || !plainV4At(t, i + 4, e)) return -1;
  addr[k * 4 + 2] = i + 4;
  addr[k * 4 + 3] = e;
  const keys = proto === P.icmp ? ICMP_KEYS : PORT_KEYS;
  const maxes = proto === P.icmp ? ICMP_MAX : PORT_MAX;
  for (let j = 0; j < keys.length; j++) {
    i = skipSp(t, e, le);
    e = tokEnd(t, i, le);
    const v = keyNum(t, i, e, keys[j]!, 10, maxes[j]!);
    if (v < 0) return -1;
    l4[k * 3 + j] = v;
  }
  i = skipSp(t, e, le);
  acct[k * 2] = -1;
  acct[k * 2 + 1] = -1;
  if (hasAt(t, i, 'packets=')) {
    e = tokEnd(t, i, le);
    const p = digitsAt(t, i + 8, e, 20, MAX_SAFE);
    i = skipSp(t, e, le);
    e = tokEnd(t, i, le);
    const b = keyNum(t, i, e, 'bytes=', 20, MAX_SAFE);
    if (p < 0 || b < 0) return -1;
    acct[k * 2] = p;
    acct[k * 2 + 1] = b;
    i = skipSp(t, e, le);
  }
  tupleEnd = e;
  return i;
}
const PORT_KEYS = ['sport=', 'dport='];
const PORT_MAX = [65535, 65535];
const ICMP_KEYS = ['type=', 'code=', 'id='];
const ICMP_MAX = [255, 255, 65535];

/** t[ls, le) is in the usual shape: its fields are now in the scratch. t must be ASCII (latin1 of ASCII bytes). */
export function readFast(t: string, ls: number, le: number): boolean {
  const c0 = t.charCodeAt(ls);
  if (ls >= le || c0 < 97 || c0 > 122) return false;
  let i = ls;
  let e = tokEnd(t, i, le);
  // `ipv4 2` first (conntrack -o extended); IPv4 addresses are checked below, so any other head is read in full
  if (isToken(t, i, e, 'ipv4')) {
    i = skipSp(t, e, le);
    e = tokEnd(t, i, le);
    if (!isToken(t, i, e, '2')) return false;
    i = skipSp(t, e, le);
    e = tokEnd(t, i, le);
  }
  const n = e - i;
  // tcp, udp, udplite, sctp, dccp, icmp: anything else (icmpv6, gre, unknown, ipv6) is read in full
  if (n === 3 && hasAt(t, i, 'tcp')) proto = P.tcp;
  else if (n === 3 && hasAt(t, i, 'udp')) proto = P.udp;
  else if (n === 4 && hasAt(t, i, 'icmp')) proto = P.icmp;
  else if (n === 4 && hasAt(t, i, 'sctp')) proto = P.sctp;
  else if (n === 4 && hasAt(t, i, 'dccp')) proto = P.dccp;
  else if (n === 7 && hasAt(t, i, 'udplite')) proto = P.udplite;
  else return false;
  i = skipSp(t, e, le);
  e = tokEnd(t, i, le);
  if (digitsAt(t, i, e, 10, 255) !== PROTO_NUM[proto]) return false;
  i = skipSp(t, e, le);
  e = tokEnd(t, i, le);
  timeout = -1;
  const c = t.charCodeAt(i);
  if (c >= 48 && c <= 57) {
    // all digits: a timeout, which must be in range; anything else starting with a digit is not this shape
    timeout = digitsAt(t, i, e, 10, U32);
    if (timeout < 0) return false;
    i = skipSp(t, e, le);
    e = tokEnd(t, i, le);
  }
  stateS = -1;
  stateE = -1;
  if (isUpperWord(t, i, e)) {
    stateS = i;
    stateE = e;
    i = skipSp(t, e, le);
  }
  i = tuple(t, i, le, 0);
  if (i < 0) return false;
  unreplied = false;
  if (hasAt(t, i, '[UNREPLIED]')) {
    e = tokEnd(t, i, le);
    if (e - i !== 11) return false;
    unreplied = true;
    i = skipSp(t, e, le);
  }
  i = tuple(t, i, le, 1);
  if (i < 0) return false;
  flagCount = 0;
  meta.fill(-1);
  let last = tupleEnd;
  while (i < le) {
    e = tokEnd(t, i, le);
    last = e;
    if (t.charCodeAt(i) === 91 /* [ */) {
      let f = 0;
      while (f < 3 && !isToken(t, i, e, FLAG_TOKEN[f]!)) f++;
      if (f === 3) return false;
      for (let j = 0; j < flagCount; j++) if (flagOrder[j] === f) return false;
      flagOrder[flagCount++] = f;
    } else {
      let m = 0;
      while (m < 6 && !hasAt(t, i, META_KEY[m]!)) m++;
      if (m === 6 || meta[m]! >= 0) return false;
      const v = digitsAt(t, i + META_KEY[m]!.length, e, META_LEN[m]!, META_MAX[m]!);
      if (v < 0) return false;
      meta[m] = v;
    }
    i = skipSp(t, e, le);
  }
  // the trimmed line ends with its last token (trailing spaces are not part of it)
  lineEnd = last;
  return true;
}

/** /^[A-Z][A-Z_0-9]*$/ on t[s, e) */
function isUpperWord(t: string, s: number, e: number): boolean {
  if (s >= e) return false;
  const c = t.charCodeAt(s);
  if (c < 65 || c > 90) return false;
  for (let i = s + 1; i < e; i++) {
    const d = t.charCodeAt(i);
    if (!((d >= 65 && d <= 90) || d === 95 || (d >= 48 && d <= 57))) return false;
  }
  return true;
}

function sameText(t: string, a: number, aEnd: number, b: number, bEnd: number): boolean {
  if (aEnd - a !== bEnd - b) return false;
  for (let i = 0; i < aEnd - a; i++) if (t.charCodeAt(a + i) !== t.charCodeAt(b + i)) return false;
  return true;
}

/** natOf's destination NAT on the scratch: the reply's source is not the original destination (or port) */
export function fastDnat(t: string): boolean {
  return !sameText(t, addr[2]!, addr[3]!, addr[4]!, addr[5]!) || (proto !== P.icmp && l4[3] !== l4[1]);
}

function fastSnat(t: string): boolean {
  return !sameText(t, addr[6]!, addr[7]!, addr[0]!, addr[1]!) || (proto !== P.icmp && l4[4] !== l4[0]);
}

function buildTuple(t: string, k: number): CtTuple {
  const tu: CtTuple =
    proto === P.icmp
      ? {
          src: t.slice(addr[k * 4]!, addr[k * 4 + 1]!),
          dst: t.slice(addr[k * 4 + 2]!, addr[k * 4 + 3]!),
          type: l4[k * 3]!,
          code: l4[k * 3 + 1]!,
          id: l4[k * 3 + 2]!,
        }
      : {
          src: t.slice(addr[k * 4]!, addr[k * 4 + 1]!),
          dst: t.slice(addr[k * 4 + 2]!, addr[k * 4 + 3]!),
          sport: l4[k * 3]!,
          dport: l4[k * 3 + 1]!,
        };
  if (acct[k * 2]! >= 0) {
    tu.packets = acct[k * 2]!;
    tu.bytes = acct[k * 2 + 1]!;
  }
  return tu;
}

/** The entry parseConntrackLine builds for the line readFast last accepted (ls: its start). */
export function fastEntry(t: string, ls: number, lineNo: number, probe: string): ConntrackEntry {
  const entry = { family: 4, proto: PROTO_NAME[proto]!, protonum: PROTO_NUM[proto]! } as ConntrackEntry;
  if (timeout >= 0) entry.timeout = timeout;
  if (stateS >= 0) entry.state = t.slice(stateS, stateE);
  entry.orig = buildTuple(t, 0);
  entry.reply = buildTuple(t, 1);
  const flags: CtFlag[] = unreplied ? ['UNREPLIED'] : [];
  for (let j = 0; j < flagCount; j++) flags.push(FLAG[flagOrder[j]!]!);
  entry.flags = flags;
  // parseConntrackLine's key order: mark, secmark, (secctx), zone, deltaTime, ..., use, id
  if (meta[0]! >= 0) entry.mark = meta[0]!;
  if (meta[1]! >= 0) entry.secmark = meta[1]!;
  if (meta[2]! >= 0) entry.zone = meta[2]!;
  if (meta[3]! >= 0) entry.deltaTime = meta[3]!;
  if (meta[4]! >= 0) entry.use = meta[4]!;
  if (meta[5]! >= 0) entry.id = meta[5]!;
  entry.dnat = fastDnat(t);
  entry.snat = fastSnat(t);
  entry.line = lineNo;
  entry.source = ev(probe, t.slice(ls, lineEnd));
  return entry;
}

/**
 * The scratch readFast would leave for a line, from the record the SIMD module wrote for it (ByteSearch.natLines,
 * answer 3; layout REC in byte-search.ts): positions there count from the region, `shift` moves them to the text
 * fastEntry is then given (minus the line's start when that text is the line alone).
 */
export function loadFast(rec: Float64Array, at: number, shift: number): void {
  proto = rec[at + REC.proto]! as P;
  timeout = rec[at + REC.timeout]!;
  stateS = rec[at + REC.stateS]!;
  stateE = rec[at + REC.stateE]!;
  if (stateS >= 0) {
    stateS += shift;
    stateE += shift;
  }
  for (let k = 0; k < 8; k++) addr[k] = rec[at + REC.addr + k]! + shift;
  for (let k = 0; k < 6; k++) l4[k] = rec[at + REC.l4 + k]!;
  for (let k = 0; k < 4; k++) acct[k] = rec[at + REC.acct + k]!;
  unreplied = rec[at + REC.unreplied] === 1;
  flagCount = rec[at + REC.flagCount]!;
  for (let k = 0; k < flagCount; k++) flagOrder[k] = rec[at + REC.flagOrder + k]!;
  for (let k = 0; k < 6; k++) meta[k] = rec[at + REC.meta + k]!;
  lineEnd = rec[at + REC.lineEnd]! + shift;
}
