#!/usr/bin/env node
// Route-table shapes for the bench, each as a snapshot of its own next to the base one: the base
// snapshot's files hard-linked (same node, Services, pods, conntrack), with one route file replaced
// by N routes of one real shape:
//   bgp   every route a BGP route: gateway, `proto bgp`, metric (a full table as bird/kube-router install it)
//   ecmp  every route multipath: `nexthops` with weights
//   nhobj every route a nexthop object (`nhid`, the `nh_info` -d prints, and for groups the expanded
//         `nexthops`), plus the `ip -j nexthop` dump of those objects in ip-nexthop.json
//   v6    N IPv6 routes (gateway fe80::1, `proto bgp`, metric 1024, pref medium)
// Element shapes follow fixtures/tools/ip/route/np-perf-shapes.{4,6}-j-d-table-all.json, captured
// from the kernel by fixtures/tools/ip/lab/capture-shapes.sh; only addresses and counts vary.
//
//   node bench/gen-shapes.mjs <baseDir> <shape> [--scale F] [--seed N]
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createWriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXTRA_POD_ROUTE } from './gen.mjs';

const TEMPLATE = resolve(new URL('.', import.meta.url).pathname, '../fixtures/snapshots/kind-v4/k1');

export const SHAPES = ['bgp', 'ecmp', 'nhobj', 'v6'];

function mulberry32(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const v4 = (n) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/** Hard links of every file of src under dst (directories recreated), except the names in skip. */
function linkTree(src, dst, skip) {
  mkdirSync(dst, { recursive: true });
  for (const n of readdirSync(src)) {
    if (skip.has(n)) continue;
    const s = join(src, n);
    const d = join(dst, n);
    if (statSync(s).isDirectory()) linkTree(s, d, new Set());
    else linkSync(s, d);
  }
}

class Writer {
  constructor(path) {
    this.ws = createWriteStream(path);
    this.buf = [];
    this.first = true;
    this.ws.write('[');
  }
  push(o) {
    this.buf.push((this.first ? '' : ',') + JSON.stringify(o));
    this.first = false;
    if (this.buf.length >= 20000) this.flush();
  }
  flush() {
    if (this.buf.length) this.ws.write(this.buf.join(''));
    this.buf = [];
  }
  close() {
    this.flush();
    this.ws.write(']\n');
    return new Promise((res, rej) => this.ws.end((e) => (e ? rej(e) : res())));
  }
}

// gateways on the node's uplink (eth0, 172.18.0.0/16 in the template)
const GWS = ['172.18.0.1', '172.18.0.5', '172.18.0.6', '172.18.0.7'];
// nexthop objects: 4 single hops (ids 101..104) and 4 groups (ids 201..204) of two of them
const NH_SINGLE = GWS.map((g, i) => ({ id: 101 + i, gateway: g, dev: 'eth0', scope: 'link', flags: [] }));
const NH_GROUP = [0, 1, 2, 3].map((i) => ({
  id: 201 + i,
  members: [
    { id: 101 + i, weight: 1 + i },
    { id: 101 + ((i + 1) % 4), weight: 1 },
  ],
}));

function v4Route(shape, dst, i) {
  const base = { type: 'unicast', dst };
  if (shape === 'bgp')
    return {
      ...base,
      gateway: GWS[i % GWS.length],
      dev: 'eth0',
      table: 'main',
      protocol: 'bgp',
      scope: 'global',
      metric: 20,
      flags: [],
    };
  if (shape === 'ecmp')
    return {
      ...base,
      table: 'main',
      protocol: 'bgp',
      scope: 'global',
      metric: 20,
      flags: [],
      nexthops: [
        { gateway: GWS[i % GWS.length], dev: 'eth0', weight: 1, flags: [] },
        { gateway: GWS[(i + 1) % GWS.length], dev: 'eth0', weight: 1 + (i % 3), flags: [] },
      ],
    };
  // nhobj: every other route a single-hop object, the rest a group
  if (i % 2 === 0) {
    const h = NH_SINGLE[(i >> 1) % NH_SINGLE.length];
    return {
      ...base,
      nhid: h.id,
      gateway: h.gateway,
      dev: 'eth0',
      table: 'main',
      protocol: 'bgp',
      scope: 'global',
      metric: 20,
      flags: [],
      nh_info: { id: h.id, gateway: h.gateway, dev: 'eth0', scope: 'link', protocol: 'unspec', flags: [] },
    };
  }
  const g = NH_GROUP[(i >> 1) % NH_GROUP.length];
  const group = g.members.map((m) => (m.weight === 1 ? { id: m.id } : { id: m.id, weight: m.weight }));
  return {
    ...base,
    nhid: g.id,
    table: 'main',
    protocol: 'bgp',
    scope: 'global',
    metric: 20,
    flags: [],
    nh_info: { id: g.id, group, scope: 'global', protocol: 'unspec', flags: [] },
    nexthops: g.members.map((m) => ({ gateway: GWS[m.id - 101], dev: 'eth0', weight: m.weight, flags: [] })),
  };
}

/** RFC 5952 text, as inet_ntop prints it (the longest run of two or more zero groups becomes ::). */
const v6Canon = (a) => new URL(`http://[${a}]/`).hostname.slice(1, -1);

function excludedV4(a, b) {
  return a === 0 || a === 10 || a === 127 || a === 169 || a >= 224 || (a === 172 && b >= 16 && b < 32);
}

export async function generateShape(base, shape, { scale = 1, seed = 20261207 } = {}) {
  if (!SHAPES.includes(shape)) throw new Error(`unknown shape ${shape} (${SHAPES.join(', ')})`);
  const out = `${base}-${shape}`;
  const rnd = mulberry32(seed);
  const int = (n) => Math.floor(rnd() * n);
  const count = Math.round(1_000_000 * scale);
  rmSync(out, { recursive: true, force: true });
  const file = shape === 'v6' ? 'ip-route6.json' : 'ip-route4.json';
  linkTree(base, out, new Set([file]));
  // the node's own routes (the template node's, as gen.mjs starts from them, and the second pod CIDR
  // gen.mjs adds): main's first, then the bulk, then local's, as ip prints them
  const own = JSON.parse(readFileSync(join(TEMPLATE, file), 'utf8'));
  if (file === 'ip-route4.json')
    own.splice(
      own.findIndex((r) => r.table !== 'main'),
      0,
      EXTRA_POD_ROUTE,
    );
  const w = new Writer(join(out, file));
  for (const r of own) if (r.table === 'main') w.push(r);
  const seen = new Set();
  const probes = [];
  for (let i = 0; i < count; ) {
    if (shape === 'v6') {
      // inside 2001:db8::/32 (documentation range): mostly /64s, some /56 and /48
      const x = rnd();
      const plen = x < 0.03 ? 48 : x < 0.2 ? 56 : 64;
      const w3 = int(65536);
      const w4 = plen === 48 ? 0 : plen === 56 ? int(256) << 8 : int(65536);
      const key = w3 * 0x1000000 + w4 * 256 + plen;
      if (seen.has(key)) continue;
      seen.add(key);
      const net = v6Canon(`2001:db8:${w3.toString(16)}:${w4.toString(16)}::`);
      w.push({
        type: 'unicast',
        dst: `${net}/${plen}`,
        gateway: 'fe80::1',
        dev: 'eth0',
        table: 'main',
        protocol: 'bgp',
        scope: 'global',
        metric: 1024,
        flags: [],
        pref: 'medium',
      });
      if (i % 1000 === 1) probes.push(`${net}1`);
    } else {
      const plen = rnd() < 0.6 ? 24 : 16 + int(13);
      const addr = (int(0x100000000) & ((0xffffffff << (32 - plen)) >>> 0)) >>> 0;
      if (excludedV4(addr >>> 24, (addr >>> 16) & 255)) continue;
      const key = addr * 64 + plen;
      if (seen.has(key)) continue;
      seen.add(key);
      w.push(v4Route(shape, `${v4(addr)}/${plen}`, i));
      if (i % 1000 === 1) probes.push(v4((addr | 1) >>> 0));
    }
    i++;
  }
  for (const r of own) if (r.table !== 'main') w.push(r);
  await w.close();
  if (shape === 'nhobj') {
    // as `ip -j nexthop show` prints them (fixtures/tools/ip/nexthop/np-perf-shapes.j.json)
    const objs = [
      ...NH_SINGLE,
      ...NH_GROUP.map((g) => ({
        id: g.id,
        group: g.members.map((m) => (m.weight === 1 ? { id: m.id } : { id: m.id, weight: m.weight })),
        flags: [],
      })),
    ];
    writeFileSync(join(out, 'ip-nexthop.json'), JSON.stringify(objs) + '\n');
  }
  const meta = { shape, scale, seed, routes: count, file, probes, probe: probes[probes.length >> 1] };
  writeFileSync(`${out}.meta.json`, JSON.stringify(meta) + '\n');
  return { out, meta };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args.splice(i, 2)[1] : dflt;
  };
  const scale = Number(opt('--scale', '1'));
  const seed = Number(opt('--seed', '20261207'));
  const [base, shape] = args;
  if (!base || !shape) {
    console.error(`usage: gen-shapes.mjs <baseDir> <${SHAPES.join('|')}> [--scale F] [--seed N]`);
    process.exit(2);
  }
  const t0 = Date.now();
  const { out, meta } = await generateShape(resolve(base), shape, { scale, seed });
  console.log(
    `wrote ${out} (${meta.routes} ${shape} routes in ${meta.file}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
}
