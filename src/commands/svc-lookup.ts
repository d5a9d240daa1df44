import { EXIT, SourceError, UsageError } from '../errors.js';
import { lookupServices, parseServiceQuery, type LookupResult } from '../analysis/services.js';
import { loadServices } from '../collect/load-services.js';
import type { ProbeSource } from '../collect/source.js';
import { parseIpAddr } from '../tools/ip/index.js';
import type { Address, Warning } from '../model/types.js';

export interface SvcLookupOutcome {
  node: string | null;
  result: LookupResult;
  exitCode: number;
}

/** `svc lookup`: every frontend that matches, from every layer that programs Services. */
export async function runSvcLookup(source: ProbeSource, queryText: string): Promise<SvcLookupOutcome> {
  const query = parseServiceQuery(queryText);
  if (!query) throw new UsageError(`${JSON.stringify(queryText)} is not address[:port][/tcp|udp|sctp] or namespace/name`);
  let addrs: Address[] = [];
  const a = await source.read('ip-addr').catch(() => undefined);
  if (a) {
    try {
      addrs = parseIpAddr(a.text, 'ip-addr').value;
    } catch {
      addrs = [];
    }
  }
  const loaded = await loadServices(source, addrs);
  const present = loaded.sources.filter((s) => s.status !== 'missing');
  if (present.length === 0 || present.every((s) => s.status === 'failed')) {
    const failed = present.map((s) => `${s.probe}: ${s.message}`).join('; ');
    throw new SourceError(source.description, failed ? `no readable Service source (${failed})` : 'no Service source (cilium-dbg service list, bpf lb list, LB maps, iptables-save, nft, ipvsadm)');
  }
  const result = lookupServices(loaded.entries, query);
  const warnings: Warning[] = [...loaded.warnings];
  if (loaded.lbLayout) warnings.push({ code: 'lb-layout', message: `LB maps decoded with the ${loaded.lbLayout.version} layout (${loaded.lbLayout.because})`, source: 'bpf-map' });
  result.warnings = warnings;
  let node: string | null = null;
  const m = await source.manifest().catch(() => undefined);
  if (m) {
    try {
      const j = JSON.parse(m) as { node?: unknown };
      if (typeof j.node === 'string') node = j.node;
    } catch {
      node = null;
    }
  }
  return { node, result, exitCode: result.frontends.length > 0 ? EXIT.ok : EXIT.bad };
}
