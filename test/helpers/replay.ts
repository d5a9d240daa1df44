import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  NODE_PROBES,
  netnsProbes,
  SYSCTL_CONF4_SUBTREE,
  tcFilterProbes,
  type ProbeSpec,
} from '../../src/collect/probes.js';
import { isAllowed } from '../../src/exec/allowlist.js';
import type { RawOutput, Runner } from '../../src/exec/runner.js';

/**
 * A runner that answers each probe with the file a real capture of it left in a bundled snapshot (what the
 * tool printed on that node); a probe the snapshot has no file for is "not installed". Lets `snapshot`
 * run end to end without touching this machine. Records every argv.
 */
export function replayRunner(snapshotDir: string): Runner & { calls: string[][] } {
  const specs: ProbeSpec[] = [...NODE_PROBES];
  const netns = join(snapshotDir, 'netns');
  if (existsSync(netns)) for (const n of readdirSync(netns)) specs.push(...netnsProbes(n));
  const tc = join(snapshotDir, 'tc-filter');
  if (existsSync(tc))
    for (const f of readdirSync(tc)) specs.push(...tcFilterProbes(f.replace(/\.(ingress|egress)\.(json|txt)$/, '')));
  const byArgv = new Map<string, string>();
  for (const s of specs) {
    for (const ext of ['json', 'txt']) {
      const file = join(snapshotDir, `${s.id}.${ext}`);
      if (!existsSync(file)) continue;
      byArgv.set(s.argv.join('\0'), file);
      if (s.fallbackArgv) byArgv.set(s.fallbackArgv.join('\0'), file);
      break;
    }
  }
  const calls: string[][] = [];
  const run = async (argv: readonly string[]): Promise<RawOutput> => {
    calls.push([...argv]);
    const base = { argv, stderr: '', durationMs: 2 };
    if (!isAllowed(argv))
      return {
        ...base,
        exitCode: -1,
        stdout: '',
        failed: 'not-allowed',
        message: `${argv[0]}: not on the read-only allow-list`,
      };
    // whether IPVS is in the kernel, asked before ipvsadm (collect/probes.ts onlyIfPresent): a node whose capture
    // holds ipvsadm's output had it, as /proc/net/ip_vs then exists; otherwise the file is missing, as cat says
    if (argv.length === 2 && argv[0] === 'cat' && argv[1] === '/proc/net/ip_vs')
      return byArgv.has('ipvsadm\0-Sn')
        ? { ...base, exitCode: 0, stdout: '' }
        : { ...base, exitCode: 1, stdout: '', stderr: `cat: ${argv[1]}: No such file or directory\n` };
    // the bundled captures come from a kernel without CONFIG_MODULES (no /proc/modules: nothing can be loaded), so
    // the module gates (collect/module-gate.ts) let every probe run, as they did when it was captured
    if (argv.length === 2 && argv[0] === 'cat' && argv[1] === '/proc/modules')
      return { ...base, exitCode: 1, stdout: '', stderr: `cat: ${argv[1]}: No such file or directory\n` };
    // sysctl is asked for a key list that grows over time: any sysctl gets the captured sysctl output
    // (the per-device subtree is a question of its own: an older capture has no answer to it)
    const file =
      byArgv.get(argv.join('\0')) ??
      (argv[0] === 'sysctl' && !argv.includes(SYSCTL_CONF4_SUBTREE)
        ? byArgv.get(NODE_PROBES.find((p) => p.id === 'sysctl')!.argv.join('\0'))
        : undefined);
    if (file === undefined)
      return { ...base, exitCode: -1, stdout: '', failed: 'ENOENT', message: `${argv[0]}: not installed` };
    return { ...base, exitCode: 0, stdout: readFileSync(file, 'utf8') };
  };
  return Object.assign(run, { calls });
}
