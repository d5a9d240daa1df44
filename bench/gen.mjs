#!/usr/bin/env node
// Deterministic large snapshot for `npm run bench`: node k1 of fixtures/snapshots/kind-v4 plus
// 1,000,000 IPv4 + 200,000 IPv6 routes in several tables with policy rules, 10,000 Services x 10
// backends as Cilium v1.17 LB map dumps (bpftool -j) and as kube-proxy iptables-save rules, 500 pods,
// and 1,000,000 conntrack entries (gen-conntrack.mjs).
// Record shapes are copied from the real captures in fixtures/ (ip -j -d route, ip -j rule,
// bpftool -j map dump, iptables-save v1.8.9); only addresses, names and counts vary.
//
//   node bench/gen.mjs [outDir] [--seed N] [--scale F] [--pods N] [--routes N] [--after]
//
// --after writes the same node (same seed, same draws) after kube-proxy was removed, for `diff large
// large-after`; it differs from the default snapshot the way fixtures/snapshots/migrate-iptables' after/
// differs from before/ (real captures): kube-proxy's iptables rules gone except kubelet's chains and a few
// leftovers, connections now made by Cilium's socket-LB straight to backends (no DNAT), and, as a node's
// tables move on between two captures, ~0.1 % of the routes changed, added or removed. The LB maps, pods
// and endpoints are the same.
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeConntrack } from './gen-conntrack.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const TEMPLATE = join(root, 'fixtures/snapshots/kind-v4/k1');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
};
const SEED = Number(opt('--seed', '20261123'));
const SCALE = Number(opt('--scale', '1'));
// --pods N: a node with this many pods (the check bench: 110, the kubelet default maximum)
const PODS = opt('--pods', undefined);
// --routes N: this many generated IPv4 routes (IPv6: a fifth), for a node of ordinary size beside its Services
const ROUTES = opt('--routes', undefined);
const AFTER = args.includes('--after');
if (AFTER) args.splice(args.indexOf('--after'), 1);
const OUT = resolve(args[0] ?? join(here, AFTER ? 'out/large-after' : 'out/large'));

export const COUNTS = {
  v4Routes: ROUTES !== undefined ? Number(ROUTES) : Math.round(1_000_000 * SCALE),
  v6Routes: ROUTES !== undefined ? Math.round(Number(ROUTES) / 5) : Math.round(200_000 * SCALE),
  services: Math.round(10_000 * SCALE),
  backendsPerService: 10,
  pods: PODS !== undefined ? Number(PODS) : Math.max(10, Math.round(500 * SCALE)),
};

function mulberry32(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(SEED);
const int = (n) => Math.floor(rnd() * n);
// --after: a second generator decides which routes change, so that the main draws (and therefore every
// other route, Service and pod) are the same as without --after
const churn = mulberry32(SEED ^ 0xaf7e4);
/** ~0.1 % of a table's routes: a third removed, a third with another gateway or metric, a third added beside */
const CHURN = 0.001;
function churned(route, add) {
  if (!AFTER || churn() >= CHURN) return [route];
  const k = churn();
  if (k < 1 / 3) return [];
  if (k < 2 / 3) {
    const r = { ...route };
    if (r.gateway?.includes('.')) r.gateway = `172.18.0.${11 + Math.floor(churn() * 4)}`;
    else r.metric = (r.metric ?? 0) + 10;
    return [r];
  }
  return [route, add()];
}

const v4 = (n) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const hex2 = (b) => '0x' + b.toString(16).padStart(2, '0');

/** Streams a JSON array of objects without holding the whole text. */
class JsonArrayWriter {
  constructor(path) {
    this.parts = [];
    this.size = 0;
    this.first = true;
    this.fd = createWriteStream(path);
    this.fd.write('[');
  }
  push(obj) {
    this.parts.push((this.first ? '' : ',') + JSON.stringify(obj));
    this.first = false;
    if (this.parts.length >= 20000) this.flush();
  }
  flush() {
    if (this.parts.length) this.fd.write(this.parts.join(''));
    this.parts = [];
  }
  async close() {
    this.flush();
    this.fd.write(']\n');
    await new Promise((res, rej) => this.fd.end((e) => (e ? rej(e) : res())));
  }
}

// ---------- routes ----------
// IPv4 prefixes for the "Internet" tables: anything outside the node's own ranges.
function excludedV4(a) {
  return a === 0 || a === 10 || a === 127 || a === 169 || a >= 224;
}
function randomV4Prefix() {
  for (;;) {
    const len = 16 + int(13); // /16 .. /28, weighted like a full table towards /24 below
    const plen = rnd() < 0.6 ? 24 : len;
    const addr = (int(0x100000000) >>> 0) & (plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0);
    const a = addr >>> 24;
    if (excludedV4(a)) continue;
    if (a === 172 && ((addr >>> 16) & 255) >= 16 && ((addr >>> 16) & 255) < 32) continue;
    if (a === 192 && ((addr >>> 16) & 255) === 168) continue;
    return { addr: addr >>> 0, plen };
  }
}

const V4_TABLES = [
  // share, table, gateways (all on eth0 in 172.18.0.0/16, as the node's uplink)
  [0.6, 'main', ['172.18.0.1', '172.18.0.5', '172.18.0.6']],
  [0.2, '100', ['172.18.0.7']],
  [0.15, '200', ['172.18.0.8', '172.18.0.9']],
  [0.05, '300', ['172.18.0.10']],
];

function v4RouteObject(p, table, gws, i) {
  const dst = `${v4(p.addr)}/${p.plen}`;
  // every 50th route is a throw or unreachable/blackhole-free connected route, as the fixtures show
  if (table !== 'main' && i % 97 === 0)
    return { type: 'throw', dst, table, protocol: 'boot', scope: 'global', flags: [] };
  const r = {
    type: 'unicast',
    dst,
    gateway: gws[i % gws.length],
    dev: 'eth0',
    table,
    protocol: i % 3 === 0 ? 'bgp' : 'boot',
    scope: 'global',
  };
  if (i % 7 === 0) r.metric = 20;
  r.flags = [];
  return r;
}

/** the route to the second pod CIDR (10.244.11.0/24, podIp's second block), as cilium_host routes the first */
export const EXTRA_POD_ROUTE = {
  type: 'unicast',
  dst: '10.244.11.0/24',
  gateway: '10.244.1.1',
  dev: 'cilium_host',
  table: 'main',
  protocol: 'boot',
  scope: 'global',
  prefsrc: '10.244.1.1',
  flags: [],
};

async function writeRoutes4(path, baseRoutes, meta) {
  const w = new JsonArrayWriter(path);
  const base = JSON.parse(baseRoutes);
  // the node's own routes first (as ip prints main before local), extra pod CIDR, then the bulk
  const mainBase = base.filter((r) => r.table === 'main');
  const localBase = base.filter((r) => r.table !== 'main');
  for (const r of mainBase) w.push(r);
  w.push(EXTRA_POD_ROUTE);
  const seen = new Set();
  let n = 0;
  const probes = [];
  for (const [share, table, gws] of V4_TABLES) {
    const want = Math.round(COUNTS.v4Routes * share);
    for (let i = 0; i < want; ) {
      const p = randomV4Prefix();
      const key = `${table}|${p.addr}|${p.plen}`;
      if (seen.has(key)) continue;
      seen.add(key);
      for (const r of churned(v4RouteObject(p, table, gws, i), () => {
        // an added route: a /29 of this prefix's first /24 (the base table draws /16../28, so it may exist
        // already in the same table, in which case ip would print it once: skipped)
        const q = { addr: ((p.addr & 0xffffff00) | 0xf8) >>> 0, plen: 29 };
        if (seen.has(`${table}|${q.addr}|${q.plen}`)) return [];
        seen.add(`${table}|${q.addr}|${q.plen}`);
        return v4RouteObject(q, table, gws, i + 1);
      }).flat())
        w.push(r);
      if (table === 'main' && i % 1000 === 1 && p.plen <= 24) probes.push(v4((p.addr | 1) >>> 0));
      i++;
      n++;
    }
  }
  for (const r of localBase) w.push(r);
  await w.close();
  meta.v4Routes = n + mainBase.length + localBase.length + 1;
  meta.v4Probes = probes;
}

function v6Hex(words) {
  return words.map((x) => x.toString(16)).join(':');
}
async function writeRoutes6(path, baseRoutes, meta) {
  const w = new JsonArrayWriter(path);
  const base = JSON.parse(baseRoutes);
  const mainBase = base.filter((r) => r.table === 'main');
  const localBase = base.filter((r) => r.table !== 'main');
  for (const r of mainBase) w.push(r);
  const seen = new Set();
  const probes = [];
  const tables = [
    [0.7, 'main'],
    [0.3, '100'],
  ];
  let n = 0;
  for (const [share, table] of tables) {
    const want = Math.round(COUNTS.v6Routes * share);
    for (let i = 0; i < want; ) {
      // 2001:db8::/32 only (documentation range): /48 and /64 inside it
      const plen = rnd() < 0.5 ? 48 : 64;
      const w3 = int(65536);
      const w4 = plen === 64 ? int(65536) : 0;
      const key = `${table}|${w3}|${w4}|${plen}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const dst = plen === 48 ? `2001:db8:${w3.toString(16)}::/48` : `${v6Hex([0x2001, 0xdb8, w3, w4])}::/64`;
      const route = {
        type: 'unicast',
        dst,
        gateway: 'fe80::1',
        dev: 'eth0',
        table,
        protocol: 'boot',
        scope: 'global',
        metric: 1024,
        flags: [],
        pref: 'medium',
      };
      for (const r of churned(route, () => {
        // an added route: a /96 inside this prefix (the base table draws /48 and /64 only)
        return { ...route, dst: `${v6Hex([0x2001, 0xdb8, w3, w4, 0, 0xaf])}::/96` };
      }))
        w.push(r);
      if (table === 'main' && i % 1000 === 1)
        probes.push(plen === 48 ? `2001:db8:${w3.toString(16)}::1` : `${v6Hex([0x2001, 0xdb8, w3, w4])}::1`);
      i++;
      n++;
    }
  }
  for (const r of localBase) w.push(r);
  await w.close();
  meta.v6Routes = n + mainBase.length + localBase.length;
  meta.v6Probes = probes;
}

// Rules in the shape of `ip -j rule show` (fixtures/tools/ip/rule/np-ip-a.4-j.json).
const RULES4 = [
  { priority: 0, src: 'all', table: 'local' },
  { priority: 9, src: 'all', fwmark: '0x200', fwmask: '0xf00', table: '2004' },
  { priority: 100, src: '192.0.2.0', srclen: 24, table: '100' },
  { priority: 101, src: 'all', fwmark: '0x40', table: '200' },
  { priority: 102, src: 'all', iif: 'eth1', table: '300' },
  { priority: 32766, src: 'all', table: 'main' },
  { priority: 32767, src: 'all', table: 'default' },
];
const RULES6 = [
  { priority: 0, src: 'all', table: 'local' },
  { priority: 100, src: '2001:db8:ffff::', srclen: 48, table: '100' },
  { priority: 32766, src: 'all', table: 'main' },
];

// ---------- pods ----------
function podIp(i) {
  // 10.244.1.0/24 (the node's first pod CIDR) then 10.244.11.0/24; .1 is cilium_host, .12 the template pod
  const block = Math.floor(i / 240);
  const host = 14 + (i % 240);
  return `10.244.${block === 0 ? 1 : 11 + (block - 1)}.${host}`;
}
function mac(i, salt) {
  const b = [0x0a, salt, (i >> 16) & 255, (i >> 8) & 255, i & 255, 0x42];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function writePods(out, meta) {
  const tdir = join(TEMPLATE, 'netns/cni-5f0c1d2e-k1a');
  const tpl = {};
  for (const f of ['ip-link.json', 'ip-addr.json', 'ip-route4.json', 'ip-route6.json'])
    tpl[f] = readFileSync(join(tdir, f), 'utf8');
  const hostLinks = JSON.parse(readFileSync(join(out, 'ip-link.json'), 'utf8'));
  const hostLxc = hostLinks.find((l) => l.ifname === 'lxc0a1b2c3d4e5f');
  const podLink = JSON.parse(tpl['ip-link.json']).find((l) => l.ifname === 'eth0');
  const endpoints = JSON.parse(readFileSync(join(out, 'cilium-endpoints.json'), 'utf8'));
  const epTpl = endpoints.find((e) => JSON.stringify(e).includes('10.244.1.12'));
  const netnsList = JSON.parse(readFileSync(join(out, 'ip-netns.json'), 'utf8'));
  let ifindex = Math.max(...hostLinks.map((l) => l.ifindex)) + 1;
  let nsid = Math.max(...netnsList.map((n) => n.id ?? -1)) + 1;
  const pods = [];
  for (let i = 0; i < COUNTS.pods; i++) {
    const ip = podIp(i);
    const id = createHash('sha256').update(`pod-${SEED}-${i}`).digest('hex');
    const ns = `cni-${id.slice(0, 8)}-${id.slice(8, 12)}-b${i}`;
    const lxc = `lxc${id.slice(12, 24)}`;
    const podMac = mac(i, 0x01);
    const lxcMac = mac(i, 0x02);
    const dir = join(out, 'netns', ns);
    mkdirSync(dir, { recursive: true });
    const sub = (s) =>
      s.replaceAll('10.244.1.12', ip).replaceAll(podLink.address, podMac).replaceAll(hostLxc.address, lxcMac);
    for (const [f, text] of Object.entries(tpl)) writeFileSync(join(dir, f), sub(text));
    const hl = JSON.parse(JSON.stringify(hostLxc).replaceAll(hostLxc.address, lxcMac).replaceAll(hostLxc.ifname, lxc));
    hl.ifindex = ifindex++;
    hl.link_netnsid = nsid;
    hostLinks.push(hl);
    netnsList.push({ name: ns, id: nsid++ });
    if (epTpl) {
      const e = JSON.parse(
        JSON.stringify(epTpl)
          .replaceAll('10.244.1.12', ip)
          .replaceAll(hostLxc.ifname, lxc)
          .replaceAll(hostLxc.address, lxcMac)
          .replaceAll(podLink.address, podMac),
      );
      e.id = 5000 + i;
      const s = e.status;
      if (s?.networking) s.networking['interface-index'] = hl.ifindex;
      if (s?.['external-identifiers']) {
        s['external-identifiers']['k8s-pod-name'] = `bench-${i}`;
        s['external-identifiers']['pod-name'] = `default/bench-${i}`;
        s['external-identifiers']['container-id'] = id;
      }
      endpoints.push(e);
    }
    pods.push(ip);
  }
  writeFileSync(join(out, 'ip-link.json'), JSON.stringify(hostLinks) + '\n');
  writeFileSync(join(out, 'ip-netns.json'), JSON.stringify(netnsList) + '\n');
  writeFileSync(join(out, 'cilium-endpoints.json'), JSON.stringify(endpoints, null, 2) + '\n');
  meta.pods = pods.length;
}

// ---------- Services ----------
const clusterIp = (i) => `10.96.${(i >> 8) & 255}.${i & 255}`;
const backendIp = (i, j) => podIp((i * 10 + j) % COUNTS.pods);
const backendPort = (i) => 8000 + (i % 1000);
const svcName = (i) => ({ ns: `ns${i % 50}`, name: `svc${i}`, port: 'http' });
/** address shapes shared with gen-conntrack.mjs */
export const SHAPES = { podIp, clusterIp, backendIp, backendPort };

// kube-proxy: KUBE-SVC-/KUBE-SEP- suffix = first 16 chars of base32(sha256(...)), as kube-proxy names them
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32(buf) {
  let bits = 0;
  let val = 0;
  let s = '';
  for (const b of buf) {
    val = (val << 8) | b;
    bits += 8;
    while (bits >= 5) {
      s += B32[(val >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return s;
}
const chainHash = (text) => base32(createHash('sha256').update(text).digest()).slice(0, 16);

function ipBytes(ip) {
  return ip.split('.').map(Number);
}
async function writeLbMaps(out, _meta) {
  const dir = join(out, 'bpf-map');
  mkdirSync(dir, { recursive: true });
  const svc = new JsonArrayWriter(join(dir, 'cilium_lb4_services_v2.json'));
  const be = new JsonArrayWriter(join(dir, 'cilium_lb4_backends_v3.json'));
  const rn = new JsonArrayWriter(join(dir, 'cilium_lb4_reverse_nat.json'));
  const n = COUNTS.services;
  const k = COUNTS.backendsPerService;
  for (let i = 0; i < n; i++) {
    const vip = ipBytes(clusterIp(i));
    const revnat = i + 1; // u16, NBO in the value and as the reverse-NAT key
    const key = (slot) => [...vip, 0, 80, slot & 255, slot >> 8, 6, 0, 0, 0].map(hex2);
    svc.push({ key: key(0), value: [0, 0, 0, 0, k & 255, k >> 8, revnat >> 8, revnat & 255, 0, 0, 0, 0].map(hex2) });
    for (let j = 0; j < k; j++) {
      const id = i * k + j + 1; // u32 host order
      svc.push({
        key: key(j + 1),
        value: [
          id & 255,
          (id >> 8) & 255,
          (id >> 16) & 255,
          id >>> 24,
          0,
          0,
          revnat >> 8,
          revnat & 255,
          0,
          0,
          0,
          0,
        ].map(hex2),
      });
      const port = backendPort(i);
      be.push({
        key: [id & 255, (id >> 8) & 255, (id >> 16) & 255, id >>> 24].map(hex2),
        value: [...ipBytes(backendIp(i, j)), port >> 8, port & 255, 6, 0, 0, 0, 0, 0].map(hex2),
      });
    }
    rn.push({ key: [revnat >> 8, revnat & 255].map(hex2), value: [...vip, 0, 80].map(hex2) });
  }
  await Promise.all([svc.close(), be.close(), rn.close()]);
  // empty IPv6 maps, as bpftool prints them
  for (const m of ['cilium_lb6_services_v2', 'cilium_lb6_backends_v3', 'cilium_lb6_reverse_nat'])
    writeFileSync(join(dir, `${m}.json`), '[]\n');
}

async function writeIptables(path) {
  const ws = createWriteStream(path);
  const buf = [];
  const emit = (s) => {
    buf.push(s);
    if (buf.length > 20000) {
      ws.write(buf.join('\n') + '\n');
      buf.length = 0;
    }
  };
  const stamp = 'Mon Nov 23 09:00:00 2026';
  emit(`# Generated by iptables-save v1.8.9 (nf_tables) on ${stamp}`);
  emit('*nat');
  for (const c of ['PREROUTING ACCEPT', 'INPUT ACCEPT', 'OUTPUT ACCEPT', 'POSTROUTING ACCEPT']) emit(`:${c} [0:0]`);
  const n = COUNTS.services;
  const k = COUNTS.backendsPerService;
  const chains = [
    ':KUBE-MARK-MASQ - [0:0]',
    ':KUBE-NODEPORTS - [0:0]',
    ':KUBE-POSTROUTING - [0:0]',
    ':KUBE-SERVICES - [0:0]',
  ];
  const rules = [];
  const svcRules = [];
  for (let i = 0; i < n; i++) {
    const s = svcName(i);
    const spn = `${s.ns}/${s.name}:${s.port}`;
    const svcChain = `KUBE-SVC-${chainHash(spn + 'tcp')}`;
    chains.push(`:${svcChain} - [0:0]`);
    svcRules.push(
      `-A KUBE-SERVICES -d ${clusterIp(i)}/32 -p tcp -m comment --comment "${spn} cluster IP" -m tcp --dport 80 -j ${svcChain}`,
    );
    rules.push(
      `-A ${svcChain} ! -s 10.244.0.0/16 -d ${clusterIp(i)}/32 -p tcp -m comment --comment "${spn} cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ`,
    );
    for (let j = 0; j < k; j++) {
      const ep = `${backendIp(i, j)}:${backendPort(i)}`;
      const sep = `KUBE-SEP-${chainHash(spn + 'tcp' + ep)}`;
      chains.push(`:${sep} - [0:0]`);
      const left = k - j;
      const prob = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(11)}` : '';
      rules.push(`-A ${svcChain} -m comment --comment "${spn} -> ${ep}"${prob} -j ${sep}`);
      rules.push(`-A ${sep} -s ${backendIp(i, j)}/32 -m comment --comment "${spn}" -j KUBE-MARK-MASQ`);
      rules.push(`-A ${sep} -p tcp -m comment --comment "${spn}" -m tcp -j DNAT --to-destination ${ep}`);
    }
  }
  for (const c of chains) emit(c);
  emit('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
  emit('-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
  emit('-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING');
  emit('-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000');
  emit('-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN');
  emit('-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0');
  emit('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE');
  for (const r of svcRules) emit(r);
  emit(
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
  );
  for (const r of rules) emit(r);
  emit('COMMIT');
  emit(`# Completed on ${stamp}`);
  ws.write(buf.join('\n') + '\n');
  await new Promise((res, rej) => ws.end((e) => (e ? rej(e) : res())));
}

/**
 * iptables-save after kube-proxy's removal: kubelet's own chains (KUBE-IPTABLES-HINT, KUBE-KUBELET-CANARY,
 * which kubelet re-creates, as in fixtures/snapshots/migrate-iptables/after) and what a removal without
 * `kube-proxy --cleanup` leaves behind (as in after-broken/): KUBE-SERVICES flushed, but the masquerade chains
 * still hooked into POSTROUTING and the first few Services' KUBE-SVC-/KUBE-SEP- chains, unreferenced.
 */
async function writeIptablesAfter(path) {
  const stamp = 'Mon Nov 23 10:41:16 2026';
  const out = [];
  const head = (t) => out.push(`# Generated by iptables-save v1.8.9 (nf_tables) on ${stamp}`, `*${t}`);
  const tail = () => out.push('COMMIT', `# Completed on ${stamp}`);
  head('mangle');
  for (const c of ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']) out.push(`:${c} ACCEPT [0:0]`);
  out.push(':KUBE-IPTABLES-HINT - [0:0]', ':KUBE-KUBELET-CANARY - [0:0]');
  tail();
  head('filter');
  for (const c of ['INPUT', 'FORWARD', 'OUTPUT']) out.push(`:${c} ACCEPT [0:0]`);
  out.push(':KUBE-KUBELET-CANARY - [0:0]');
  tail();
  head('nat');
  for (const c of ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING']) out.push(`:${c} ACCEPT [0:0]`);
  const k = COUNTS.backendsPerService;
  const chains = [':KUBE-KUBELET-CANARY - [0:0]', ':KUBE-MARK-MASQ - [0:0]', ':KUBE-POSTROUTING - [0:0]'];
  const rules = [];
  for (let i = 0; i < Math.min(3, COUNTS.services); i++) {
    const s = svcName(i);
    const spn = `${s.ns}/${s.name}:${s.port}`;
    const svcChain = `KUBE-SVC-${chainHash(spn + 'tcp')}`;
    chains.push(`:${svcChain} - [0:0]`);
    for (let j = 0; j < k; j++) {
      const ep = `${backendIp(i, j)}:${backendPort(i)}`;
      const sep = `KUBE-SEP-${chainHash(spn + 'tcp' + ep)}`;
      chains.push(`:${sep} - [0:0]`);
      const left = k - j;
      const prob = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(11)}` : '';
      rules.push(`-A ${svcChain} -m comment --comment "${spn} -> ${ep}"${prob} -j ${sep}`);
      rules.push(`-A ${sep} -p tcp -m comment --comment "${spn}" -m tcp -j DNAT --to-destination ${ep}`);
    }
  }
  out.push(...chains);
  out.push('-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING');
  out.push('-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000');
  out.push('-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN');
  out.push('-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0');
  out.push('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE');
  out.push(...rules);
  tail();
  writeFileSync(path, out.join('\n') + '\n');
}

export async function generate(out = OUT) {
  const t0 = Date.now();
  rmSync(out, { recursive: true, force: true });
  mkdirSync(dirname(out), { recursive: true });
  cpSync(TEMPLATE, out, { recursive: true });
  // the template's manifest lists its own probes and durations; this snapshot has none
  rmSync(join(out, 'manifest.json'), { force: true });
  const meta = { seed: SEED, scale: SCALE, counts: COUNTS };
  await writeRoutes4(join(out, 'ip-route4.json'), readFileSync(join(TEMPLATE, 'ip-route4.json'), 'utf8'), meta);
  await writeRoutes6(join(out, 'ip-route6.json'), readFileSync(join(TEMPLATE, 'ip-route6.json'), 'utf8'), meta);
  writeFileSync(join(out, 'ip-rule4.json'), JSON.stringify(RULES4) + '\n');
  writeFileSync(join(out, 'ip-rule6.json'), JSON.stringify(RULES6) + '\n');
  writePods(out, meta);
  await writeLbMaps(out, meta);
  if (AFTER) await writeIptablesAfter(join(out, 'iptables-save.txt'));
  else await writeIptables(join(out, 'iptables-save.txt'));
  meta.conntrack = await writeConntrack(
    join(out, 'conntrack4.txt'),
    { ...SHAPES, pods: meta.pods, services: COUNTS.services, backendsPerService: COUNTS.backendsPerService },
    { lines: Math.round(1_000_000 * SCALE), seed: SEED, after: AFTER },
  );
  if (AFTER) meta.after = true;
  meta.query = {
    svc: `${clusterIp(4242 % COUNTS.services)}:80/tcp`,
    svcName: `ns${(4242 % COUNTS.services) % 50}/svc${4242 % COUNTS.services}`,
    podSrc: '10.244.1.12',
    remotePod: '10.244.2.7',
    outside: meta.v4Probes[meta.v4Probes.length >> 1],
  };
  writeFileSync(
    join(out, 'manifest.json'),
    JSON.stringify(
      {
        schemaVersion: 1,
        node: 'k1-bench',
        kernel: '6.18.44-fc-v669',
        generatedBy: AFTER ? 'bench/gen.mjs --after' : 'bench/gen.mjs',
        seed: SEED,
      },
      null,
      2,
    ) + '\n',
  );
  writeFileSync(join(dirname(out), `${basenameOf(out)}.meta.json`), JSON.stringify(meta) + '\n');
  return { meta, seconds: (Date.now() - t0) / 1000 };
}
const basenameOf = (p) => p.split('/').filter(Boolean).pop();

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { meta, seconds } = await generate();
  console.log(
    `wrote ${OUT} in ${seconds.toFixed(1)} s: ${meta.v4Routes} IPv4 + ${meta.v6Routes} IPv6 routes, ${COUNTS.services} Services x ${COUNTS.backendsPerService}, ${meta.pods} pods`,
  );
}
