import type { Parsed } from '../../model/types.js';
import type { Backend, BackendState, ServiceEntry, ServiceFlags } from '../../model/service.js';
import { canonIp } from '../../model/addr.js';
import { cleanText, ev, looksLikeJson, parseJsonText, DANGEROUS_KEYS } from '../common.js';
import { ParseError } from '../parse-error.js';
import { cleanPaste } from '../paste.js';
import { parseL3n4, protoFromString, serviceTypeFromWord } from './l3n4.js';
import { BackendAddressSchema, ServiceSchema, type ServiceSpecJson } from './schema.js';
import { throwIfToolError } from '../tool-error.js';
import { Warnings } from '../warnings.js';

const STATES: Record<string, BackendState> = {
  active: 'active',
  terminating: 'terminating',
  'terminating-not-serving': 'terminating-not-serving',
  quarantined: 'quarantined',
  maintenance: 'maintenance',
};

function stateOf(s: string | undefined): BackendState | undefined {
  if (s === undefined) return undefined;
  const k = s.toLowerCase();
  return Object.hasOwn(STATES, k) ? STATES[k] : undefined;
}

/**
 * `cilium[-dbg] service list`: the `-o json` array of models.Service, or the text table of any
 * version (≤ 1.16 `IP:port[/i]`, 1.17+ `IP:port/PROTO[/i]`). One ServiceEntry per frontend.
 */
export function parseCiliumServiceList(text: string, probe: string): Parsed<ServiceEntry[]> {
  throwIfToolError(text, probe, 'cilium-dbg service list');
  const clean = cleanText(text);
  if (looksLikeJson(clean)) return serviceListJson(clean, probe);
  const p = cleanPaste(clean, probe);
  return serviceListText(p.text, probe, new Warnings(probe).preface(p.warnings));
}

function hostile(v: unknown, depth = 0): boolean {
  if (depth > 8) return true;
  if (v === null || typeof v !== 'object') return false;
  for (const k of Object.keys(v)) {
    if (DANGEROUS_KEYS.has(k)) return true;
    if (hostile((v as Record<string, unknown>)[k], depth + 1)) return true;
  }
  return false;
}

function serviceListJson(text: string, probe: string): Parsed<ServiceEntry[]> {
  const r = parseJsonText(text);
  if (!r.ok) throw new ParseError(probe, r.message);
  if (!Array.isArray(r.value)) throw new ParseError(probe, 'expected a JSON array (cilium-dbg service list -o json)');
  const warnings = new Warnings(probe);
  const out: ServiceEntry[] = [];
  for (const [i, raw] of r.value.entries()) {
    if (hostile(raw)) {
      warnings.add('record-skipped', `service #${i}: reserved key or nesting too deep`);
      continue;
    }
    const p = ServiceSchema.safeParse(raw);
    if (!p.success) {
      warnings.add(
        'record-skipped',
        `service #${i}: ${p.error.issues[0]?.path.join('.') ?? ''} ${p.error.issues[0]?.message ?? 'invalid'}`.trim(),
      );
      continue;
    }
    // status.realized is what the agent programmed into BPF; spec is only what it wants.
    const realized = p.data.status?.realized;
    const spec = realized ?? p.data.spec;
    if (!spec) {
      warnings.add('record-skipped', `service #${i}: neither spec nor status.realized`);
      continue;
    }
    if (!realized)
      warnings.add(
        'not-realized',
        `service ${spec.id ?? '#' + i}: no status.realized; using spec, which may not be in BPF yet`,
      );
    const e = fromSpec(spec, probe, i, warnings);
    if (e) out.push(e);
  }
  return { value: out, warnings: warnings.done() };
}

function render(a: {
  ip?: string | undefined;
  port?: number | undefined;
  protocol?: string | undefined;
  scope?: string | undefined;
}): string {
  const ip = a.ip ?? '?';
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return `${host}:${a.port ?? '?'}${a.protocol ? '/' + a.protocol.toUpperCase() : ''}${a.scope === 'internal' ? '/i' : ''}`;
}

function fromSpec(spec: ServiceSpecJson, probe: string, i: number, warnings: Warnings): ServiceEntry | null {
  const fe = spec['frontend-address'];
  const label = `service ${spec.id ?? '#' + i}`;
  const addr = fe.ip !== undefined ? canonIp(fe.ip) : null;
  if (addr === null || fe.port === undefined) {
    warnings.add('record-skipped', `${label}: frontend without a valid ip/port`);
    return null;
  }
  const proto = fe.protocol === undefined || fe.protocol === '' ? 'ANY' : protoFromString(fe.protocol);
  if (proto === undefined) {
    warnings.add('record-skipped', `${label}: unknown frontend protocol '${fe.protocol ?? ''}'`);
    return null;
  }
  if (fe.scope !== undefined && fe.scope !== 'external' && fe.scope !== 'internal') {
    warnings.add('record-skipped', `${label}: unknown frontend scope '${fe.scope}'`);
    return null;
  }
  const f = spec.flags ?? {};
  const type = f.type !== undefined ? serviceTypeFromWord(f.type) : 'ClusterIP';
  if (type === undefined) {
    warnings.add('record-skipped', `${label}: unknown service type '${f.type ?? ''}'`);
    return null;
  }
  const flags: ServiceFlags = {};
  const etp = f.extTrafficPolicy ?? f.trafficPolicy;
  if (etp !== undefined) flags.externalTrafficPolicyLocal = etp === 'Local';
  if (f.intTrafficPolicy !== undefined) flags.internalTrafficPolicyLocal = f.intTrafficPolicy === 'Local';
  const raw: string[] = [];
  if (f.type !== undefined) raw.push(`type=${f.type}`);
  if (etp !== undefined) raw.push(`extTrafficPolicy=${etp}`);
  if (f.intTrafficPolicy !== undefined) raw.push(`intTrafficPolicy=${f.intTrafficPolicy}`);
  if (f.natPolicy !== undefined) raw.push(`natPolicy=${f.natPolicy}`);
  if (f.cluster !== undefined) raw.push(`cluster=${f.cluster}`);
  if (raw.length) flags.raw = raw;

  const text = `${spec.id ?? '?'} ${render(fe)} ${f.type ?? ''}${f.namespace || f.name ? ` ${f.namespace ?? ''}/${f.name ?? ''}` : ''}`;
  const entry: ServiceEntry = {
    source: 'cilium-dbg',
    frontend: { address: addr, port: fe.port, proto, scope: fe.scope === 'internal' ? 'internal' : 'external' },
    type,
    flags,
    backends: [],
    evidence: [ev(probe, text)],
  };
  if (spec.id !== undefined) entry.id = spec.id;
  if (f.name !== undefined) entry.name = f.namespace !== undefined ? `${f.namespace}/${f.name}` : f.name;

  for (const [j, rb] of (spec['backend-addresses'] ?? []).entries()) {
    const pb = BackendAddressSchema.safeParse(rb);
    const bAddr = pb.success ? canonIp(pb.data.ip) : null;
    if (!pb.success || bAddr === null || pb.data.port === undefined) {
      warnings.add('record-skipped', `${label}: backend #${j} without a valid ip/port`);
      continue;
    }
    const d = pb.data;
    const st = stateOf(d.state);
    if (d.state !== undefined && st === undefined) {
      warnings.add('unknown-state', `${label}: backend ${render(d)} has unknown state '${d.state}'`);
    }
    const b: Backend = {
      address: bAddr,
      port: d.port ?? 0,
      state: st ?? 'unknown',
      source: ev(probe, `${j + 1} => ${render(d)}${d.state !== undefined ? ` (${d.state})` : ''}`),
    };
    if (d.protocol !== undefined && d.protocol !== '') {
      const bp = protoFromString(d.protocol);
      if (bp !== undefined) b.proto = bp;
    }
    if (d.nodeName !== undefined) b.nodeName = d.nodeName;
    if (d.zone !== undefined) b.zone = d.zone;
    if (d.weight !== undefined && Number.isFinite(d.weight)) b.weight = d.weight;
    entry.backends.push(b);
  }
  return entry;
}

// `ID  Frontend  Service Type  Backend`; a type may carry ` (Remote)` (clustermesh, v1.14+). Cilium PRs
// #25861 / #29055 showed the table without its ID column and frontends as `IP:port:PROTO`; released
// versions up to 1.19 print the ID (cilium-dbg/cmd/service_list.go), but a paste of either is read.
const HEADER = /^(ID\s+)?Frontend\s+Service Type\s+Backend\s*$/;
const ROW = /^(\d+)\s+(\S+)\s+([A-Za-z]+)( \(Remote\))?(?:\s+(.*))?$/;
const ROW_NO_ID = /^()(\S+)\s+([A-Za-z]+)( \(Remote\))?(?:\s+(.*))?$/;
const BACKEND = /^(\d+) => (\S+)(?: \(([a-z-]+|\d+)\))?( \(preferred\))?$/;
// before Cilium 1.0 (2017): `IP:port =>` then `\t\tN => IP:port (revnat)`, no Service Type column
const PRE_1_0 = /^\S+:\d+ =>$/;

/** A frontend as the text prints it: `IP:port[/PROTO][/i]`, or `IP:port:PROTO` (the ID-less layout). */
function frontendOf(s: string) {
  const colonProto = /^(.*):(TCP|UDP|SCTP|ANY)((?:\/i)?)$/i.exec(s);
  return parseL3n4(colonProto ? `${colonProto[1]}/${colonProto[2]}${colonProto[3]}` : s);
}

/**
 * The text table. It cannot show traffic policies, session affinity, source ranges or an L7 proxy
 * redirect: those flags stay undefined (unknown), never defaulted.
 */
function serviceListText(text: string, probe: string, warnings: Warnings): Parsed<ServiceEntry[]> {
  const out: ServiceEntry[] = [];
  let cur: ServiceEntry | undefined;
  let recognised = 0;
  let withId = true;
  let preOne = 0;
  // unreadable lines of one kind are reported once, with a count and the first of them
  const bad = new Map<string, { n: number; first: string }>();
  const skipLine = (kind: string, first: string) => {
    const b = bad.get(kind);
    if (b) b.n++;
    else bad.set(kind, { n: 1, first });
  };
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/\s+$/, '');
    if (line.trim() === '') continue;
    const h = HEADER.exec(line.trim());
    if (h) {
      withId = h[1] !== undefined;
      recognised++;
      continue;
    }
    if (PRE_1_0.test(line.trim())) preOne++;
    let backendText: string | undefined;
    if (/^\s/.test(line)) {
      if (!cur) {
        skipLine('backend line with no service before it', `line ${i + 1}: ${line.trim().slice(0, 120)}`);
        continue;
      }
      backendText = line.trim();
    } else {
      cur = undefined;
      const m = (withId ? ROW : ROW_NO_ID).exec(line) ?? (withId ? ROW_NO_ID : ROW).exec(line);
      const fe = m ? frontendOf(m[2] ?? '') : null;
      const type = m ? serviceTypeFromWord(m[3] ?? '') : undefined;
      if (!m || !fe || type === undefined) {
        skipLine('not a service list row', `line ${i + 1}: ${line.slice(0, 120)}`);
        continue;
      }
      const id = m[1] === '' ? undefined : Number(m[1]);
      if (id !== undefined && (!Number.isSafeInteger(id) || id > 0xffffffff)) {
        skipLine('service id out of range', `line ${i + 1}`);
        continue;
      }
      cur = {
        source: 'cilium-dbg',
        frontend: { address: fe.address, port: fe.port, proto: fe.proto ?? 'ANY', scope: fe.scope },
        type,
        flags: m[4] ? { raw: ['Remote'] } : {},
        backends: [],
        evidence: [ev(probe, line.trim())],
      };
      if (id !== undefined) cur.id = id;
      out.push(cur);
      recognised++;
      backendText = m[5]?.trim() || undefined;
    }
    if (backendText === undefined) continue;
    const b = BACKEND.exec(backendText);
    const addr = b ? parseL3n4(b[2] ?? '') : null;
    if (!b || !addr) {
      warnings.add(
        'backend-skipped',
        `line ${i + 1}: unreadable backend '${backendText.slice(0, 120)}' of service ${cur.id ?? '?'}`,
      );
      continue;
    }
    const stText = b[3];
    const st = stText !== undefined && !/^\d+$/.test(stText) ? stateOf(stText) : undefined;
    if (stText !== undefined && !/^\d+$/.test(stText) && st === undefined) {
      warnings.add('unknown-state', `line ${i + 1}: backend ${b[2] ?? ''} has unknown state '${stText}'`);
    }
    const be: Backend = {
      address: addr.address,
      port: addr.port,
      state: st ?? 'unknown',
      source: ev(probe, backendText),
    };
    if (addr.proto !== undefined) be.proto = addr.proto;
    cur.backends.push(be);
    recognised++;
  }
  for (const [kind, b] of bad) warnings.add('line-skipped', `${b.n} line(s) skipped: ${kind} (first: ${b.first})`);
  if (recognised === 0 && preOne > 0)
    throw new ParseError(
      probe,
      'pre-1.0 `cilium service list` layout (`IP:port =>`, no Service Type column): not supported; capture `cilium-dbg service list -o json`',
    );
  if (recognised === 0) throw new ParseError(probe, 'no line looks like `cilium-dbg service list` output');
  return { value: out, warnings: warnings.done() };
}
