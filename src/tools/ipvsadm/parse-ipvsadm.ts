import { canonIp, splitHostPort } from '../../model/addr.js';
import type { Backend, L4Proto, ServiceEntry } from '../../model/service.js';
import type { Address, Parsed } from '../../model/types.js';
import { ev } from '../common.js';
import { ParseError } from '../parse-error.js';
import { Warnings } from '../warnings.js';
import { cleanPaste } from '../paste.js';
import { throwIfToolError } from '../tool-error.js';

// Null-prototype tables: a word such as `__proto__` or `constructor` in the flag's place must
// look up nothing, not Object.prototype (`-A __proto__ 10.96.0.1:443` became a Service).
const SAVE_PROTO: Record<string, L4Proto> = Object.assign(Object.create(null) as Record<string, L4Proto>, {
  '-t': 'TCP',
  '--tcp-service': 'TCP',
  '-u': 'UDP',
  '--udp-service': 'UDP',
  '-q': 'SCTP',
  '--sctp-service': 'SCTP',
});
const LIST_PROTO: Record<string, L4Proto> = Object.assign(Object.create(null) as Record<string, L4Proto>, {
  TCP: 'TCP',
  UDP: 'UDP',
  SCTP: 'SCTP',
});
const FORWARD: Record<string, string> = {
  '-m': 'Masq',
  '--masquerading': 'Masq',
  '-g': 'Route',
  '--gatewaying': 'Route',
  '-i': 'Tunnel',
  '--ipip': 'Tunnel',
};

/** Addresses kube-proxy put on its `kube-ipvs0` dummy device (ClusterIPs, ExternalIPs, LB IPs). */
export function ipvsVipsFromAddrs(addrs: Address[]): string[] {
  return addrs.filter((a) => a.ifname === 'kube-ipvs0').map((a) => a.local);
}

export interface IpvsOptions {
  /** VIPs from `ipvsVipsFromAddrs`: a virtual server on one of them is a Service IP, on any other address a NodePort */
  vips?: string[];
}

/**
 * `ipvsadm -L -n` / `-Ln` / `-Sn`, or `ipvsadm` / `ipvsadm -L` (names instead of numbers). IPVS itself
 * has no Service type: it comes from `opts.vips` (kube-ipvs0); without it the type cannot be read and
 * every virtual server carries `type-unknown` in flags.raw (the model has no unknown type; the
 * ClusterIP it holds then is a placeholder, not a reading).
 *
 * A port printed as a service name (`:http`, `:postgresql`) is kept as `portName`, unresolved: the
 * node's /etc/services is not in the paste, so no number is guessed. A host printed as a name is not
 * an address: that line is skipped and said.
 */
export function parseIpvsadm(text: string, probe: string, opts: IpvsOptions = {}): Parsed<ServiceEntry[]> {
  throwIfToolError(text, probe, 'ipvsadm');
  const pasted = cleanPaste(text, probe);
  const warnings = new Warnings(probe).preface(pasted.warnings);
  let portNames = 0;
  const namedHosts: string[] = [];
  /** `addr:port`, or `addr:name` with the name kept; null for a host name or anything else */
  const hostPort = (hp: string): { addr: string; port: number; portName?: string } | null => {
    const a = splitHostPort(hp);
    if (a) return a;
    const m = /^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):([A-Za-z][\w.+-]*)$/.exec(hp);
    const ip = m ? canonIp(m[1]!.replace(/^\[|\]$/g, '')) : null;
    if (m && ip !== null) {
      portNames++;
      return { addr: ip, port: 0, portName: m[2]! };
    }
    if (m || /^[A-Za-z][\w.-]*:\d+$/.test(hp)) namedHosts.push(hp);
    return null;
  };
  const out: ServiceEntry[] = [];
  const byKey = new Map<string, ServiceEntry>();
  const vips = opts.vips ? new Set(opts.vips.map((v) => canonIp(v) ?? v)) : undefined;
  const lines = pasted.text.split('\n');
  let recognised = 0;
  let current: ServiceEntry | undefined;
  const w = (n: number, code: string, msg: string) => warnings.add(code, `line ${n}: ${msg}`);

  const newService = (
    n: number,
    line: string,
    proto: L4Proto,
    hp: string,
    sched: string | undefined,
    persist: number | undefined,
  ): ServiceEntry | undefined => {
    const a = hostPort(hp);
    if (!a) {
      if (namedHosts.at(-1) !== hp) w(n, 'ipvs-bad-address', `virtual server address '${hp}' not understood`);
      return undefined;
    }
    const raw: string[] = [];
    if (sched) raw.push(`scheduler:${sched}`);
    let type: ServiceEntry['type'] = 'ClusterIP';
    if (!vips) raw.push('type-unknown');
    else if (!vips.has(a.addr)) type = 'NodePort';
    const e: ServiceEntry = {
      source: 'ipvs',
      frontend: a.portName
        ? { address: a.addr, port: 0, proto, portName: a.portName }
        : { address: a.addr, port: a.port, proto },
      type,
      flags: { raw },
      backends: [],
      chain: line,
      evidence: [ev(probe, line)],
    };
    // the ClusterIP above is then a placeholder: the model needs a type, the reader must not take it for one
    if (!vips)
      e.unknown = [
        {
          property: 'type',
          because:
            "ipvsadm shows no Service type, and kube-ipvs0's addresses (which tell a Service IP from a NodePort) were not read",
        },
      ];
    if (persist !== undefined) {
      e.flags.sessionAffinity = true;
      e.flags.affinityTimeoutSeconds = persist;
    }
    const key = `${a.addr}|${proto}|${a.portName ?? a.port}`;
    if (byKey.has(key)) {
      w(n, 'ipvs-duplicate', `virtual server ${hp} listed twice`);
      return byKey.get(key);
    }
    byKey.set(key, e);
    out.push(e);
    return e;
  };
  const addBackend = (
    n: number,
    line: string,
    svc: ServiceEntry | undefined,
    hp: string,
    fwd: string | undefined,
    weight: number | undefined,
  ) => {
    if (!svc) {
      w(n, 'ipvs-orphan-real-server', 'real server without a virtual server before it');
      return;
    }
    const a = hostPort(hp);
    if (!a) {
      if (namedHosts.at(-1) !== hp) w(n, 'ipvs-bad-address', `real server address '${hp}' not understood`);
      return;
    }
    // kube-proxy drains a removed endpoint by setting its weight to 0 (graceful termination).
    const b: Backend = {
      address: a.addr,
      port: a.port,
      proto: svc.frontend.proto,
      state: weight === 0 ? 'terminating' : 'active',
      id: `${hp}${fwd ? ' ' + fwd : ''}`,
      source: ev(probe, line),
    };
    if (a.portName) b.portName = a.portName;
    if (weight !== undefined) b.weight = weight;
    svc.backends.push(b);
    svc.evidence.push(b.source);
  };

  for (let idx = 0; idx < lines.length; idx++) {
    const n = idx + 1;
    const raw = lines[idx]!;
    const line = raw.trim();
    if (line === '') continue;
    if (line.length > 4096) {
      w(n, 'ipvs-line-too-long', 'skipped');
      continue;
    }
    const tk = line.split(/\s+/);
    if (tk[0] === '-A' || tk[0] === '--add-service' || tk[0] === '-a' || tk[0] === '--add-server') {
      recognised++;
      const svcFlag = tk[1] ?? '';
      if (svcFlag === '-f' || svcFlag === '--fwmark-service') {
        w(n, 'ipvs-fwmark', `fwmark virtual server skipped (no address/port frontend): '${line}'`);
        if (tk[0] === '-A' || tk[0] === '--add-service') current = undefined;
        continue;
      }
      const proto = SAVE_PROTO[svcFlag];
      const hp = tk[2];
      if (!proto || hp === undefined) {
        w(n, 'ipvs-bad-line', `'${line.slice(0, 80)}' not understood`);
        continue;
      }
      const opt = (names: string[]): string | undefined => {
        const i = tk.findIndex((x) => names.includes(x));
        return i >= 0 ? tk[i + 1] : undefined;
      };
      if (tk[0] === '-A' || tk[0] === '--add-service') {
        const p = opt(['-p', '--persistent']);
        current = newService(
          n,
          line,
          proto,
          hp,
          opt(['-s', '--scheduler']),
          p !== undefined && /^\d+$/.test(p) ? Number(p) : undefined,
        );
      } else {
        const a = splitHostPort(hp);
        const svc = a ? byKey.get(`${a.addr}|${proto}|${a.port}`) : undefined;
        const wt = opt(['-w', '--weight']);
        const fwd = tk.find((x) => FORWARD[x] !== undefined);
        addBackend(
          n,
          line,
          svc,
          opt(['-r', '--real-server']) ?? '',
          fwd ? FORWARD[fwd] : undefined,
          wt !== undefined && /^\d+$/.test(wt) ? Number(wt) : undefined,
        );
      }
      continue;
    }
    if (/^IP Virtual Server version/.test(line) || /^Prot LocalAddress/.test(line) || /^-> RemoteAddress/.test(line)) {
      recognised++;
      continue;
    }
    const vs = /^(TCP|UDP|SCTP)\s+(\S+)\s+(\S+)(.*)$/.exec(line);
    if (vs) {
      recognised++;
      const rest = vs[4]!;
      const pm = /\bpersistent (\d+)/.exec(rest);
      current = newService(n, line, LIST_PROTO[vs[1]!]!, vs[2]!, vs[3], pm ? Number(pm[1]) : undefined);
      continue;
    }
    if (/^FWM\s+/.test(line)) {
      recognised++;
      w(n, 'ipvs-fwmark', `fwmark virtual server skipped (no address/port frontend): '${line}'`);
      current = undefined;
      continue;
    }
    const rsv = /^->\s+(\S+)\s+(\S+)\s+(\d+)\s+\d+\s+\d+$/.exec(line);
    if (rsv) {
      recognised++;
      addBackend(n, line, current, rsv[1]!, rsv[2], Number(rsv[3]));
      continue;
    }
    w(n, 'ipvs-unknown-line', `'${line.slice(0, 80)}' not understood`);
  }
  if (recognised === 0 && lines.some((l) => l.trim() !== '')) {
    const first = lines.find((l) => l.trim() !== '')!.trim();
    throw new ParseError(probe, `not ipvsadm -Sn/-Ln output (${first.slice(0, 80)})`);
  }
  if (portNames > 0)
    warnings.add(
      'port-name',
      `${portNames} port(s) printed as service names (\`ipvsadm -L\` without -n): kept as names, unresolved; capture \`ipvsadm -Ln\` for numbers`,
    );
  if (namedHosts.length > 0)
    warnings.add(
      'host-name',
      `${namedHosts.length} line(s) name a host instead of an address (first: ${namedHosts[0]!.slice(0, 80)}): skipped, not resolved; capture \`ipvsadm -Ln\``,
    );
  return { value: out, warnings: warnings.done() };
}
