import { readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SourceError, UsageError } from '../errors.js';
import { looksLikeJson } from '../tools/common.js';
import { LB_MAPS, SYSCTL_CONF4_SUBTREE, SYSCTL_KEYS } from './probes.js';
import { MAX_PROBE_FILE_BYTES, type ProbeSource, type ProbeText } from './source.js';
import { TAR_LIMITS } from './tar.js';

/*
 * A `cilium sysdump` (the `.zip`, or the folder it unpacks to) read as a netpath snapshot of one node.
 *
 * Layout, from cilium-cli's sysdump source — cilium/cilium-cli sysdump/{constants,defaults,sysdump}.go at
 * v0.15.0 (2023-06) … v0.16.15 (2024-08), then cilium/cilium cilium-cli/sysdump/ (vendored by cilium-cli
 * v0.19.7, 2026-08) — unchanged over those three years:
 *   - the zip holds one top directory, `cilium-sysdump-<ts>` (defaults.go DefaultOutputFileName; any other
 *     name given with --output-filename), <ts> formatted `20060102-150405` (constants.go timeFormat);
 *   - cluster-wide files beside it: `cilium-configmap-<ts>.yaml`, `k8s-pods-<ts>.yaml` (constants.go);
 *   - per Cilium agent pod, the `cilium-bugtool` archive unpacked to `cilium-bugtool-<pod>-<ts>/`
 *     (constants.go ciliumBugtoolFileName) with the archive's own top directory stripped (archiver
 *     StripComponents 1 up to v0.16.0; removeTopDirectory since cilium-cli commit 6dee85c7b, v0.16.1).
 * Inside, cilium/cilium bugtool/cmd/root.go writeCmdToFile (the same at commit 00242501 of 2020 and in the
 * 2026 tree) writes each command's stdout and stderr to `cmd/<command>.md`, the command with `/` turned into
 * a space and every space into `-` (`cilium-dbg status --verbose` → `cilium-dbg-status---verbose.md`), and
 * appends `> Error while running '<command>':  <error>` when the command failed. The commands are those of
 * bugtool/cmd/configuration.go: `cilium …` up to Cilium 1.14 (commit 00242501), `cilium-dbg …` since 1.15
 * (the binary's rename, cilium/cilium PR #32348); `ip rule` then `ip -d rule`; `ip -4 route show table N`
 * per numbered table; `endpoint list -o json` and `service list -o json` in recent versions only.
 * The node a pod ran on is `spec.nodeName` in k8s-pods-<ts>.yaml; without that file, the pod's `hostname`.
 */

/** A bugtool command output file name for a command line (root.go writeCmdToFile). */
export function bugtoolFileName(command: string): string {
  return `${command.replace(/\//g, ' ').replace(/ /g, '-')}.md`;
}

const TS = String.raw`\d{8}-\d{6}`;
const BUGTOOL_DIR = new RegExp(`^cilium-bugtool-(.+)-${TS}$`);
const K8S_PODS = new RegExp(`^k8s-pods-${TS}\\.yaml$`);
const CONFIGMAP = new RegExp(`^cilium-configmap-${TS}\\.yaml$`);
const FAILED = /^> Error while running '([^']*)':\s+(.*)$/m;

/** `cilium …` (≤ 1.14) and `cilium-dbg …` (≥ 1.15): both names of each agent command, newest first. */
const agent = (...args: string[]): string[] =>
  ['cilium-dbg', 'cilium'].map((bin) => bugtoolFileName([bin, ...args].join(' ')));

/**
 * Where each netpath probe is in a bugtool `cmd/` folder: candidate files, first present wins (JSON forms
 * first, as in a snapshot). Probes not listed here are not collected by cilium-bugtool (NOT_COLLECTED).
 */
const SINGLE: Record<string, string[]> = {
  hostname: ['hostname.md'],
  'ip-link': [bugtoolFileName('ip -d -s l')],
  'ip-addr': [bugtoolFileName('ip a')],
  // bugtool's `ip rule` has no family flag: iproute2 then lists IPv4 rules only
  'ip-rule4': [bugtoolFileName('ip -d rule'), bugtoolFileName('ip rule')],
  'tc-qdisc': [bugtoolFileName('tc qdisc show')],
  'bpftool-net': [bugtoolFileName('bpftool net show')],
  'bpftool-prog': [bugtoolFileName('bpftool prog show')],
  // one `bpftool cgroup tree <mount>` per cgroup2 mount the agent sees; Cilium's hooks are on its own
  'bpftool-cgroup': [bugtoolFileName('bpftool cgroup tree /run/cilium/cgroupv2')],
  'iptables-save': [bugtoolFileName('iptables-save -c'), bugtoolFileName('iptables-nft-save -c')],
  'ip6tables-save': [bugtoolFileName('ip6tables-save -c'), bugtoolFileName('ip6tables-nft-save -c')],
  ipset: [bugtoolFileName('ipset list')],
  'cilium-status': agent('status', '--verbose'),
  'cilium-endpoints': [
    ...agent('endpoint', 'list', '-o', 'json'),
    ...agent('endpoint', 'list'),
    ...agent('bpf', 'endpoint', 'list'),
  ],
  'cilium-service-list': [...agent('service', 'list', '-o', 'json'), ...agent('service', 'list')],
  'cilium-lb-list': agent('bpf', 'lb', 'list'),
  'cilium-config': [...agent('config', '-a'), ...agent('config')],
  ...Object.fromEntries(
    LB_MAPS.map((m) => [`bpf-map/${m}`, [bugtoolFileName(`bpftool map dump pinned /sys/fs/bpf/tc/globals/${m}`)]]),
  ),
};

/** What cilium-bugtool does not collect, and so no sysdump has: each probe with why. */
export const NOT_COLLECTED: Record<string, string> = {
  'ip-rule6': 'cilium-bugtool runs `ip rule` without -6: IPv6 policy rules are not in a sysdump',
  'ip-netns': 'not in a cilium sysdump (pod network namespaces are not listed)',
  'bpftool-link': 'cilium-bugtool does not run `bpftool link show` (tcx and netkit attachments)',
  'nft-ruleset': 'cilium-bugtool does not run `nft list ruleset`',
  wg: 'cilium-bugtool does not run `wg show`',
  ipvsadm: 'cilium-bugtool does not run `ipvsadm`',
  conntrack4: "cilium-bugtool does not list the kernel's conntrack table",
  conntrack6: "cilium-bugtool does not list the kernel's conntrack table",
};

/** One file tree: a zip's members or a folder's files, by path relative to the sysdump's top. */
interface Tree {
  paths: string[];
  read(paths: string[]): Map<string, Buffer>;
  skipped: string[];
}

export interface SysdumpNode {
  /** Kubernetes node name (or the pod's hostname when k8s-pods is missing) */
  node: string;
  pod: string;
  /** `cilium-bugtool-<pod>-<ts>` */
  dir: string;
}

export interface OpenedSysdump {
  source: ProbeSource;
  warnings: string[];
  node: SysdumpNode;
  nodes: SysdumpNode[];
}

/** Is this path a sysdump (a `.zip`, or a folder holding bugtool output or one `cilium-sysdump-*` folder)? */
export function isSysdumpPath(path: string, isDir: boolean): boolean {
  if (!isDir) return /\.zip$/i.test(path);
  let names: string[];
  try {
    names = readdirSync(path);
  } catch {
    return false;
  }
  if (names.some((n) => BUGTOOL_DIR.test(n) || K8S_PODS.test(n))) return true;
  return names.length === 1 && /^cilium-sysdump-/.test(names[0]!);
}

// fflate and yaml load only when a sysdump is read: `isSysdumpPath` runs for every snapshot opened
async function zipTree(path: string, data: Buffer): Promise<Tree> {
  const { openZip, ZipError } = await import('./zip.js');
  let z: ReturnType<typeof openZip>;
  try {
    z = openZip(data);
  } catch (e) {
    if (e instanceof ZipError) throw new SourceError(path, e.message);
    throw e;
  }
  const tree = rebased(z.members.map((m) => m.path));
  return {
    paths: tree.paths,
    skipped: z.skipped,
    read(paths) {
      try {
        const got = z.read(paths.map((p) => tree.prefix + p));
        return new Map([...got].map(([k, v]) => [k.slice(tree.prefix.length), v]));
      } catch (e) {
        if (e instanceof ZipError) throw new SourceError(path, e.message);
        throw e;
      }
    },
  };
}

function dirTree(root: string): Tree {
  const all: string[] = [];
  const walk = (rel: string, depth: number) => {
    // a sysdump is flat: bugtool folders two levels deep (cmd/, conf/), the state dir a few more
    if (depth > 8) return;
    for (const n of readdirSync(join(root, rel)).sort()) {
      const r = rel === '' ? n : `${rel}/${n}`;
      const st = statSync(join(root, r), { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(r, depth + 1);
      else if (st?.isFile()) {
        all.push(r);
        if (all.length > TAR_LIMITS.entries) throw new SourceError(root, `more than ${TAR_LIMITS.entries} files`);
      }
    }
  };
  try {
    walk('', 0);
  } catch (e) {
    if (e instanceof SourceError) throw e;
    throw new SourceError(root, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const tree = rebased(all);
  return {
    paths: tree.paths,
    skipped: [],
    read(paths) {
      const out = new Map<string, Buffer>();
      for (const p of paths) {
        const f = join(root, tree.prefix + p);
        const st = statSync(f, { throwIfNoEntry: false });
        if (!st?.isFile()) continue;
        if (st.size > MAX_PROBE_FILE_BYTES)
          throw new SourceError(f, `file is ${st.size} bytes, over the ${MAX_PROBE_FILE_BYTES} limit`);
        out.set(p, readFileSync(f));
      }
      return out;
    },
  };
}

/** Paths below the one top folder every member shares (`cilium-sysdump-<ts>/`), if they all share one. */
function rebased(paths: string[]): { prefix: string; paths: string[] } {
  const tops = new Set(paths.map((p) => (p.includes('/') ? p.split('/')[0]! : '')));
  if (tops.size !== 1 || tops.has('')) return { prefix: '', paths };
  const top = [...tops][0]!;
  if (BUGTOOL_DIR.test(top)) return { prefix: '', paths };
  const prefix = `${top}/`;
  return { prefix, paths: paths.map((p) => p.slice(prefix.length)) };
}

/** pod name → node name, from `k8s-pods-<ts>.yaml` (a PodList). */
async function podNodes(text: string): Promise<Map<string, string>> {
  const { parse: parseYaml } = await import('yaml');
  const out = new Map<string, string>();
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch {
    return out;
  }
  const items = (doc as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) return out;
  for (const it of items as { metadata?: { name?: unknown }; spec?: { nodeName?: unknown } }[]) {
    const name = it?.metadata?.name;
    const node = it?.spec?.nodeName;
    if (typeof name === 'string' && typeof node === 'string') out.set(name, node);
  }
  return out;
}

const firstLine = (b: Buffer | undefined): string | undefined => {
  const l = b?.toString('utf8').split('\n')[0]?.trim();
  return l ? l : undefined;
};

/**
 * Opens a sysdump and picks the node `--node` names (its Kubernetes node name, or its Cilium pod's name).
 * No node, or one the sysdump does not hold: a UsageError that lists the nodes it holds.
 */
export async function openSysdump(path: string, isDir: boolean, nodeName: string | undefined): Promise<OpenedSysdump> {
  let tree: Tree;
  if (isDir) tree = dirTree(path);
  else {
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new SourceError(
        path,
        code === 'EACCES' || code === 'EPERM' ? 'permission denied' : `cannot read (${code})`,
      );
    }
    tree = await zipTree(path, data);
  }
  const dirs = new Set<string>();
  let podsFile: string | undefined;
  let configMap: string | undefined;
  for (const p of tree.paths) {
    const [top, sub] = p.split('/');
    if (sub === 'cmd' && BUGTOOL_DIR.test(top!)) dirs.add(top!);
    if (!p.includes('/') && K8S_PODS.test(p)) podsFile = p;
    if (!p.includes('/') && CONFIGMAP.test(p)) configMap = p;
  }
  if (dirs.size === 0)
    throw new SourceError(
      path,
      'no cilium-bugtool output in this sysdump (taken with --quick, or the bugtool task failed): no node to read',
    );
  const first = tree.read([...(podsFile ? [podsFile] : []), ...[...dirs].map((d) => `${d}/cmd/hostname.md`)]);
  const byPod = podsFile ? await podNodes(first.get(podsFile)?.toString('utf8') ?? '') : new Map<string, string>();
  const nodes: SysdumpNode[] = [...dirs].sort().map((dir) => {
    const pod = BUGTOOL_DIR.exec(dir)![1]!;
    return { node: byPod.get(pod) ?? firstLine(first.get(`${dir}/cmd/hostname.md`)) ?? pod, pod, dir };
  });
  const list = nodes.map((n) => (n.node === n.pod ? n.node : `${n.node} (pod ${n.pod})`)).join(', ');
  if (nodeName === undefined) throw new UsageError(`${path} is a cilium sysdump: choose a node with --node (${list})`);
  const node = nodes.find((n) => n.node === nodeName) ?? nodes.find((n) => n.pod === nodeName);
  if (!node) throw new UsageError(`no node ${JSON.stringify(nodeName)} in the sysdump ${path}: its nodes are ${list}`);

  const cmd = `${node.dir}/cmd/`;
  const cmdFiles = tree.paths.filter((p) => p.startsWith(cmd) && !p.slice(cmd.length).includes('/'));
  const files = tree.read([...cmdFiles, ...(configMap ? [configMap] : [])]);
  const warnings = tree.skipped.map((s) => `${path}: skipped archive member ${s}`);
  return { source: sysdumpSource(path, node, files, cmd, configMap), warnings, node, nodes };
}

interface Built {
  text: string;
  origin: string;
}

/** Every probe of the node, from its bugtool files: read() is a lookup in what this builds once. */
function sysdumpSource(
  path: string,
  node: SysdumpNode,
  files: Map<string, Buffer>,
  cmd: string,
  configMap: string | undefined,
): ProbeSource {
  const probes = new Map<string, Built>();
  const failed = new Map<string, { failed: string; message: string; absent?: boolean }>();
  const at = (name: string) => `${path}:${cmd}${name}`;
  /** a bugtool file's output, without its error line; undefined (and the failure kept) when the command failed */
  const output = (id: string, name: string): string | undefined => {
    const buf = files.get(cmd + name);
    if (buf === undefined) return undefined;
    if (buf.includes(0)) {
      failed.set(id, { failed: 'binary', message: `${at(name)}: binary data (NUL bytes), not tool output` });
      return undefined;
    }
    const text = buf.toString('utf8');
    const m = FAILED.exec(text);
    if (m) {
      failed.set(id, { failed: 'exit', message: `cilium-bugtool: \`${m[1]}\` failed: ${m[2]!.trim()}` });
      return undefined;
    }
    return text;
  };
  const present = (names: string[]) => names.find((n) => files.has(cmd + n));

  for (const [id, names] of Object.entries(SINGLE)) {
    const name = present(names);
    if (name === undefined) continue;
    const text = output(id, name);
    if (text !== undefined) probes.set(id, { text, origin: at(name) });
  }
  // the agent's view first (`config -a`); the cluster's ConfigMap when the agent could not answer
  if (!probes.has('cilium-config') && configMap !== undefined) {
    const buf = files.get(configMap);
    if (buf !== undefined) {
      probes.set('cilium-config', { text: buf.toString('utf8'), origin: `${path}:${configMap}` });
      failed.delete('cilium-config');
    }
  }

  // `sysctl -a` is every key (multi-line values among them): keep the keys the sysctl probe asks for
  const sy = present([bugtoolFileName('sysctl -a')]);
  const syText = sy === undefined ? undefined : output('sysctl', sy);
  if (sy !== undefined && syText !== undefined) {
    const keys = new Set(SYSCTL_KEYS);
    probes.set('sysctl', {
      text: syText
        .split('\n')
        .filter((l) => keys.has(l.split('=')[0]!.trim()))
        .map((l) => `${l}\n`)
        .join(''),
      origin: `${at(sy)} (the keys netpath reads)`,
    });
    // and the per-device IPv4 subtree, as the sysctl-conf4 probe reads it
    const conf = syText.split('\n').filter((l) => l.startsWith(`${SYSCTL_CONF4_SUBTREE}.`));
    if (conf.length > 0)
      probes.set('sysctl-conf4', {
        text: conf.map((l) => `${l}\n`).join(''),
        origin: `${at(sy)} (its ${SYSCTL_CONF4_SUBTREE}.* keys)`,
      });
  }

  // `uname -a`: the release is its third field
  const un = present([bugtoolFileName('uname -a')]);
  const unText = un === undefined ? undefined : output('uname', un);
  if (un !== undefined && unText !== undefined) {
    const release = unText.trim().split(/\s+/)[2];
    probes.set('uname', { text: `${release ?? unText}\n`, origin: `${at(un)} (third field)` });
  }

  // routes: `ip -4 r` is the main table, `ip -4 route show table N` each numbered table (bugtool lists the
  // tables `ip route show table all` names with a number); the local table is not collected
  for (const f of [4, 6] as const) {
    const main = present([bugtoolFileName(`ip -${f} r`)]);
    const parts: string[] = [];
    const origins: string[] = [];
    const mainText = main === undefined ? undefined : output(`ip-route${f}`, main);
    if (main !== undefined && mainText !== undefined) {
      parts.push(mainText);
      origins.push(at(main));
    }
    const prefix = bugtoolFileName(`ip -${f} route show table `).slice(0, -3);
    const tables = [...files.keys()]
      .map((k) => k.slice(cmd.length))
      .filter((n) => n.startsWith(prefix) && /^\d+\.md$/.test(n.slice(prefix.length)))
      .sort();
    for (const n of tables) {
      const t = output(`ip-route${f}`, n);
      if (t === undefined) continue;
      const table = n.slice(prefix.length, -3);
      // `ip route show table N` leaves the table out of each route; `table all` prints it: say it again
      parts.push(
        t
          .split('\n')
          .map((l) => (l.trim() !== '' && !/^\s/.test(l) ? `${l.trimEnd()} table ${table}` : l))
          .join('\n'),
      );
      origins.push(at(n));
    }
    if (parts.length > 0) {
      failed.delete(`ip-route${f}`);
      probes.set(`ip-route${f}`, {
        text: parts.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join(''),
        origin: origins.join(' + '),
      });
    }
  }

  // neighbours: `ip -4 n` and `ip -6 n`, one list
  const neigh = [bugtoolFileName('ip -4 n'), bugtoolFileName('ip -6 n')]
    .map((n) => ({ n, t: files.has(cmd + n) ? output('ip-neigh', n) : undefined }))
    .filter((x): x is { n: string; t: string } => x.t !== undefined);
  if (neigh.length > 0) {
    failed.delete('ip-neigh');
    probes.set('ip-neigh', {
      text: neigh.map((x) => (x.t.endsWith('\n') ? x.t : `${x.t}\n`)).join(''),
      origin: neigh.map((x) => at(x.n)).join(' + '),
    });
  }

  // tc filters: `tc filter show dev <dev> ingress|egress`, one file per device and direction
  const tcFiles = new Map<string, string>();
  for (const k of files.keys()) {
    const m = /^tc-filter-show-dev-(.+)-(ingress|egress)\.md$/.exec(k.slice(cmd.length));
    if (!m) continue;
    const id = `tc-filter/${m[1]}.${m[2]}`;
    const text = output(id, k.slice(cmd.length));
    // bugtool lists every device: an empty listing is a device with no filter, which is a fact too
    if (text !== undefined) {
      probes.set(id, { text, origin: at(k.slice(cmd.length)) });
      tcFiles.set(`${m[1]}.${m[2]}`, id);
    }
  }

  for (const [id, why] of Object.entries(NOT_COLLECTED))
    if (!probes.has(id)) failed.set(id, { failed: 'not-collected', message: why, absent: true });
  const sought: Record<string, string[]> = {
    ...SINGLE,
    uname: [bugtoolFileName('uname -a')],
    sysctl: [bugtoolFileName('sysctl -a')],
    'ip-route4': [bugtoolFileName('ip -4 r')],
    'ip-route6': [bugtoolFileName('ip -6 r')],
    'ip-neigh': [bugtoolFileName('ip -4 n'), bugtoolFileName('ip -6 n')],
  };
  for (const [id, names] of Object.entries(sought))
    if (!probes.has(id) && !failed.has(id))
      failed.set(id, {
        failed: 'not-collected',
        message: `not in this sysdump (no ${names.map((n) => cmd + n).join(' or ')})`,
        absent: true,
      });
  const lacking = [...failed.keys()].sort();

  const ext = (text: string): 'json' | 'txt' => (looksLikeJson(text) ? 'json' : 'txt');
  const manifest = JSON.stringify({
    schemaVersion: 1,
    node: node.node,
    ...(probes.has('uname') ? { kernel: probes.get('uname')!.text.trim() } : {}),
    capturedWith: `cilium sysdump ${path}, pod ${node.pod}`,
    probes: [...failed].map(([id, f]) => ({ id, ...f })),
    // read by loadNodeState into the answer's warnings: what a trace on this node cannot see
    ...(lacking.length > 0
      ? {
          notes: [
            `cilium sysdump, node ${node.node} (pod ${node.pod}): no ${lacking.join(', ')}, and no pod network namespaces (netpath node lists why)`,
          ],
        }
      : {}),
  });
  return {
    description: `${path} (node ${node.node})`,
    async read(id): Promise<ProbeText | undefined> {
      const p = probes.get(id);
      return p && { text: p.text, ext: ext(p.text), origin: p.origin };
    },
    async list(dir) {
      if (dir === 'tc-filter') return [...tcFiles.keys()].map((k) => `${k}.${ext(probes.get(tcFiles.get(k)!)!.text)}`);
      return [];
    },
    async manifest() {
      return manifest;
    },
  };
}

/** The probes of a sysdump node as snapshot files (`<id>.<json|txt>` and manifest.json), for `snapshot --from`. */
export async function sysdumpSnapshotFiles(source: ProbeSource, ids: string[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const all = [...ids, ...(await source.list('tc-filter')).map((n) => `tc-filter/${n.replace(/\.(json|txt)$/, '')}`)];
  for (const id of all) {
    const p = await source.read(id);
    if (p) out.set(`${id}.${p.ext}`, Buffer.from(p.text, 'utf8'));
  }
  const m = await source.manifest();
  if (m !== undefined) out.set('manifest.json', Buffer.from(`${JSON.stringify(JSON.parse(m), null, 2)}\n`, 'utf8'));
  return out;
}

/** isSysdumpPath for a path not yet looked at (false when it does not exist). */
export function isSysdump(path: string): boolean {
  const st = statSync(path, { throwIfNoEntry: false });
  return st !== undefined && isSysdumpPath(path, st.isDirectory());
}
