import type { RawOutput, Runner } from '../exec/runner.js';

/**
 * Whether a probe would make the kernel load a module to answer (docs/safety.md, "Kernel modules"). nft,
 * conntrack, ipset and `ip xfrm` open a netlink family, or ask a netfilter subsystem, that a module provides;
 * when that module is neither loaded nor built in, the kernel runs modprobe for it (af_netlink.c netlink_create,
 * nfnetlink.c nfnetlink_rcv_msg). The node tells what is there: /proc/modules (absent without CONFIG_MODULES:
 * then nothing can be loaded), /proc/sys/kernel/modules_disabled (1: no load can happen) and
 * /lib/modules/<release>/modules.builtin (what is compiled in). Each is read once per collection, only when a
 * gated probe asks, and through the same runner as the probes: in process on this node, through --exec remotely.
 */

export const PROC_MODULES = '/proc/modules';
export const MODULES_DISABLED = '/proc/sys/kernel/modules_disabled';
export const OSRELEASE = '/proc/sys/kernel/osrelease';
/** A kernel release as uname prints it; a leading digit keeps `.`/`..` and flags out of the path. */
export const RELEASE = /^[0-9][A-Za-z0-9._+~-]{0,63}$/;
export const builtinPath = (release: string) => `/lib/modules/${release}/modules.builtin`;

/** What a gated probe needs (ProbeSpec.onlyIfPresent.modules): module names as /proc/modules spells them. */
export interface ModuleNeed {
  modules: readonly string[];
  /**
   * Only one build of the tool needs them: `argv` (a version query that opens no socket) prints which build
   * runs; `needs` tells from its output whether it is the one that needs the modules (undefined: cannot tell).
   */
  variant?: { argv: readonly string[]; needs: (out: string) => boolean | undefined; name: string };
}

export type ModuleVerdict =
  | { run: true }
  /** the modules are not in the kernel and one could be loaded */
  | { run: false; missing: string[]; where: string }
  /** the node's answers do not decide it */
  | { run: false; cannotTell: string };

type Read = { text: string } | { missing: true; why: string } | { missing: false; why: string };

/** `cat FILE` through the runner: the text, or why not (a missing file as cat tells it). */
async function cat(runner: Runner, path: string, timeoutMs: number, maxBytes: number): Promise<Read> {
  const r: RawOutput = await runner(['cat', path], { timeoutMs, maxBytes });
  if (!r.failed && r.exitCode === 0) return { text: r.stdout };
  if (!r.failed && /No such file or directory/.test(r.stderr)) return { missing: true, why: `${path} does not exist` };
  return { missing: false, why: r.message ?? (r.stderr.trim().split('\n')[0] || `cat ${path} exited ${r.exitCode}`) };
}

/** Module names of /proc/modules (first field of each line; the kernel prints them with `_`). */
export function loadedModules(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const name = line.split(' ', 1)[0];
    if (name) out.add(name);
  }
  return out;
}

/** Module names of modules.builtin (`kernel/net/netfilter/nf_tables.ko` a line; `-` in a file name is `_`). */
export function builtinModules(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /([^/\s]+)\.ko$/.exec(line.trim());
    if (m) out.add(m[1]!.replaceAll('-', '_'));
  }
  return out;
}

/** One collection's view of the node's modules: each file read once, and only when a gate gets that far. */
export function moduleGate(runner: Runner, timeoutMs: number) {
  const once = <T>(f: () => Promise<T>) => {
    let p: Promise<T> | undefined;
    return () => (p ??= f());
  };
  const loaded = once(() => cat(runner, PROC_MODULES, timeoutMs, 4 * 1024 * 1024));
  const disabled = once(() => cat(runner, MODULES_DISABLED, timeoutMs, 64));
  const builtin = once(async (): Promise<Read & { path?: string }> => {
    const rel = await cat(runner, OSRELEASE, timeoutMs, 256);
    if (!('text' in rel)) return { missing: false, why: `the kernel release is unknown (${rel.why})` };
    const release = rel.text.trim();
    if (!RELEASE.test(release))
      return {
        missing: false,
        why: `the kernel release ${JSON.stringify(release)} is not one netpath reads a path from`,
      };
    const path = builtinPath(release);
    return { ...(await cat(runner, path, timeoutMs, 16 * 1024 * 1024)), path };
  });
  const variants = new Map<string, Promise<RawOutput>>();

  const verdict = async (need: readonly string[]): Promise<ModuleVerdict> => {
    const mods = await loaded();
    // no /proc/modules: a kernel without CONFIG_MODULES, which can load nothing
    if ('missing' in mods)
      return mods.missing
        ? { run: true }
        : { run: false, cannotTell: `whether ${names(need)} ${isAre(need)} loaded (${mods.why})` };
    const have = loadedModules(mods.text);
    let missing = need.filter((m) => !have.has(m));
    if (missing.length === 0) return { run: true };
    const off = await disabled();
    if ('text' in off && off.text.trim() === '1') return { run: true };
    const b = await builtin();
    if (!('text' in b))
      return { run: false, cannotTell: `whether ${names(missing)} ${isAre(missing)} built in (${b.why})` };
    const compiled = builtinModules(b.text);
    missing = missing.filter((m) => !compiled.has(m));
    return missing.length === 0 ? { run: true } : { run: false, missing, where: `${PROC_MODULES}, ${b.path}` };
  };

  /** Whether the build of the tool that runs needs the modules: its version line, asked once per tool. */
  const needsModules = async (v: NonNullable<ModuleNeed['variant']>): Promise<boolean | string> => {
    const key = v.argv.join('\0');
    let p = variants.get(key);
    if (!p) variants.set(key, (p = runner(v.argv, { timeoutMs, maxBytes: 4096 })));
    const r = await p;
    if (r.failed || r.exitCode !== 0)
      return `${v.argv.join(' ')}: ${r.message ?? (r.stderr.trim().split('\n')[0] || `exited ${r.exitCode}`)}`;
    const needs = v.needs(r.stdout);
    return needs ?? `${v.argv.join(' ')} printed ${JSON.stringify(r.stdout.trim().slice(0, 80))}`;
  };

  return { verdict, needsModules };
}

export const names = (ms: readonly string[]) => ms.join(' and ');
export const isAre = (ms: readonly string[]) => (ms.length > 1 ? 'are' : 'is');

/**
 * iptables-save's build from `iptables-save -V` (1.8 and later print it): "(nf_tables)" speaks nftables netlink
 * (needs nf_tables); "(legacy)" reads only the tables /proc/net/ip_tables_names lists, which are loaded. Any other
 * line does not tell.
 */
export function iptablesNeedsNft(versionLine: string): boolean | undefined {
  if (/\(nf_tables\)/.test(versionLine)) return true;
  if (/\(legacy\)/.test(versionLine)) return false;
  return undefined;
}
