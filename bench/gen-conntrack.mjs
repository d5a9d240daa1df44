#!/usr/bin/env node
// conntrack4.txt for the large bench snapshot: `conntrack -L -f ipv4 -o extended` lines (1,000,000 at
// scale 1, ~200 MB), seeded. Every line has the shape of a real line of
// fixtures/tools/conntrack/lab/conntrack-L-f-ipv4-o-extended.txt (conntrack-tools 1.4.7 with
// accounting and timestamps on); only addresses, ports, counters and timers vary:
// pod -> ClusterIP TCP DNATed to a backend (kube-proxy style), DNS over UDP, pod -> outside
// masqueraded to the node, TIME_WAIT, unanswered SYNs, pings. The traced pod (10.244.1.12) has a
// known set of connections to the queried Service, from source ports 50000.. .
//
//   node bench/gen-conntrack.mjs SNAPSHOT_DIR META_JSON [--scale F] [--seed N]   (run.js calls it
//   when an older generated snapshot has no conntrack4.txt; gen.mjs calls writeConntrack directly)
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function mulberry32(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NODE = '172.18.0.2';
const DNS_VIP = '10.96.0.10';
export const TRACED_POD = '10.244.1.12';
export const TRACED_SPORTS = 50;

/**
 * g: { podIp(i), clusterIp(i), backendIp(i, j), backendPort(i), pods, services, backendsPerService }
 * from gen.mjs. Returns what the bench queries.
 */
export async function writeConntrack(path, g, { lines, seed, after = false }) {
  const rnd = mulberry32(seed ^ 0x5eed);
  // after kube-proxy's removal (gen.mjs --after): socket-LB connects pods straight to the backend, so
  // conntrack sees pod -> backend with no DNAT (fixtures/snapshots/migrate-iptables/after); a share of
  // connections opened before the switch are still open, NATed by the rules that are now gone
  const survivor = mulberry32(seed ^ 0xaf7e4);
  const SURVIVING = 0.05;
  const tuple = (pod, vip, vport, be, bp, sp) =>
    after && survivor() >= SURVIVING
      ? `src=${pod} dst=${be} sport=${sp} dport=${bp}`
      : `src=${pod} dst=${vip} sport=${sp} dport=${vport}`;
  const int = (n) => Math.floor(rnd() * n);
  const ws = createWriteStream(path);
  const buf = [];
  const emit = (s) => {
    buf.push(s);
    if (buf.length >= 20000) {
      ws.write(buf.join('\n') + '\n');
      buf.length = 0;
    }
  };
  const sport = () => 32768 + int(28232);
  const dnsBackends = [g.podIp(3), g.podIp(7)];
  const svc = 4242 % g.services;
  const tracedBackends = [];
  // the traced pod's own connections to the queried Service, spread over its backends
  for (let s = 0; s < TRACED_SPORTS; s++) {
    const j = int(g.backendsPerService);
    const be = g.backendIp(svc, j);
    const bp = g.backendPort(svc);
    tracedBackends.push(`${be}:${bp}`);
    emit(
      `ipv4     2 tcp      6 ${431000 + int(999)} ESTABLISHED src=${TRACED_POD} dst=${g.clusterIp(svc)} sport=${50000 + s} dport=80 packets=${4 + int(40)} bytes=${222 + int(9000)} src=${be} dst=${TRACED_POD} sport=${bp} dport=${50000 + s} packets=${3 + int(40)} bytes=${182 + int(90000)} [ASSURED] mark=0 delta-time=${int(3600)} use=1`,
    );
  }
  for (let n = TRACED_SPORTS; n < lines; n++) {
    const pod = g.podIp(int(g.pods));
    const k = rnd();
    const sp = sport();
    if (k < 0.6) {
      const i = int(g.services);
      const be = g.backendIp(i, int(g.backendsPerService));
      const bp = g.backendPort(i);
      emit(
        `ipv4     2 tcp      6 ${431000 + int(999)} ESTABLISHED ${tuple(pod, g.clusterIp(i), 80, be, bp, sp)} packets=${4 + int(40)} bytes=${222 + int(9000)} src=${be} dst=${pod} sport=${bp} dport=${sp} packets=${3 + int(40)} bytes=${182 + int(90000)} [ASSURED] mark=0 delta-time=${int(3600)} use=1`,
      );
    } else if (k < 0.75) {
      const be = dnsBackends[int(2)];
      emit(
        `ipv4     2 udp      17 ${int(30)} ${tuple(pod, DNS_VIP, 53, be, 53, sp)} packets=1 bytes=${60 + int(40)} src=${be} dst=${pod} sport=53 dport=${sp} packets=1 bytes=${90 + int(200)} mark=0 delta-time=${int(30)} use=1`,
      );
    } else if (k < 0.9) {
      const ext = `198.51.100.${1 + int(254)}`;
      emit(
        `ipv4     2 tcp      6 ${431000 + int(999)} ESTABLISHED src=${pod} dst=${ext} sport=${sp} dport=443 packets=${4 + int(400)} bytes=${222 + int(90000)} src=${ext} dst=${NODE} sport=443 dport=${sport()} packets=${3 + int(400)} bytes=${182 + int(900000)} [ASSURED] mark=0 delta-time=${int(3600)} use=1`,
      );
    } else if (k < 0.95) {
      const i = int(g.services);
      const be = g.backendIp(i, int(g.backendsPerService));
      const bp = g.backendPort(i);
      emit(
        `ipv4     2 tcp      6 ${int(120)} TIME_WAIT ${tuple(pod, g.clusterIp(i), 80, be, bp, sp)} packets=${6 + int(40)} bytes=${330 + int(9000)} src=${be} dst=${pod} sport=${bp} dport=${sp} packets=${5 + int(40)} bytes=${290 + int(90000)} [ASSURED] mark=0 delta-time=${int(120)} use=1`,
      );
    } else if (k < 0.97) {
      const ext = `198.51.100.${1 + int(254)}`;
      emit(
        `ipv4     2 tcp      6 ${int(120)} SYN_SENT src=${pod} dst=${ext} sport=${sp} dport=443 packets=1 bytes=60 [UNREPLIED] src=${ext} dst=${NODE} sport=443 dport=${sport()} packets=0 bytes=0 mark=0 delta-time=${int(120)} use=1`,
      );
    } else {
      const ext = `198.51.100.${1 + int(254)}`;
      const id = int(65536);
      emit(
        `ipv4     2 icmp     1 ${int(30)} src=${pod} dst=${ext} type=8 code=0 id=${id} packets=1 bytes=84 src=${ext} dst=${NODE} type=0 code=0 id=${id} packets=1 bytes=84 mark=0 delta-time=${int(30)} use=1`,
      );
    }
  }
  if (buf.length) ws.write(buf.join('\n') + '\n');
  await new Promise((res, rej) => ws.end((e) => (e ? rej(e) : res())));
  return {
    lines,
    tracedPod: TRACED_POD,
    tracedSports: TRACED_SPORTS,
    tracedSvc: `${g.clusterIp(svc)}`,
    firstBackend: tracedBackends[0],
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [snap, metaPath] = process.argv.slice(2);
  const gen = await import('./gen.mjs');
  const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
  const g = {
    ...gen.SHAPES,
    pods: meta.pods,
    services: meta.counts.services,
    backendsPerService: meta.counts.backendsPerService,
  };
  const t0 = Date.now();
  meta.conntrack = await writeConntrack(join(snap, 'conntrack4.txt'), g, {
    lines: Math.round(1_000_000 * (meta.scale ?? 1)),
    seed: meta.seed,
  });
  writeFileSync(metaPath, JSON.stringify(meta) + '\n');
  console.log(
    `wrote ${join(snap, 'conntrack4.txt')}: ${meta.conntrack.lines} entries in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
}
