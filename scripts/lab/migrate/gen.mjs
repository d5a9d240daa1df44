// Generates, from services.json, the state each data plane keeps for the same Services, in the form the
// real component writes it, for the migrate-* labs to load into a kernel with the real tools:
//   gen.mjs iptables         kube-proxy iptables mode: iptables-restore input (kube-proxy's rules + kubelet's chains)
//   gen.mjs nft              kube-proxy nftables mode: an `nft -f` transaction (tables ip and ip6 kube-proxy)
//   gen.mjs ipvs-ipset | ipvs-iptables | ipvsadm | ipvs-vips
//                            kube-proxy IPVS mode: `ipset restore` input, iptables-restore input, the
//                            `ipvsadm -Sn` text of its virtual servers, the addresses it binds to kube-ipvs0
//   gen.mjs lbmaps kpr|nokpr [--omit ns/name]   Cilium 1.19 LB maps as a `bpftool batch file`
// Formats followed: kube-proxy's expected dumps (pkg/proxy/iptables/proxier_test.go, copies in
// fixtures/tools/kube-proxy/upstream/) and Cilium's map layouts (docs/cilium-datapath.md §1).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const here = new URL('.', import.meta.url);
const cfg = JSON.parse(readFileSync(new URL('services.json', here), 'utf8'));
const NODE = cfg.node;

// kube-proxy's chain-name hash: base32(sha256(s)), upper case, cut
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32(buf) {
  let out = '';
  let bits = 0;
  let val = 0;
  for (const b of buf) {
    val = ((val << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += B32[(val >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}
export const hash = (s, n) => base32(createHash('sha256').update(s).digest()).slice(0, n);

/** One entry per Service port, with everything the generators need. */
export function servicePorts() {
  const out = [];
  for (const s of cfg.services) {
    for (const p of s.ports) {
      const proto = p.proto.toLowerCase();
      const spn = `${s.ns}/${s.name}:${p.name}`;
      const eps = s.endpoints.map((e) => ({ ...e, port: p.targetPort, hostPort: `${e.ip}:${p.targetPort}` }));
      out.push({
        svc: s,
        port: p,
        proto,
        spn,
        eps,
        local: eps.filter((e) => e.node === NODE.name),
        etpLocal: s.externalTrafficPolicy === 'Local',
        affinity: s.sessionAffinity === 'ClientIP' ? (s.affinityTimeout ?? 10800) : 0,
      });
    }
  }
  return out;
}

// ---- kube-proxy, iptables mode ----------------------------------------------------------------

const q = (c) => (/\s/.test(c) ? `"${c}"` : c);

function iptables() {
  const cidr = NODE.clusterCIDR;
  const natChains = new Set(['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']);
  const filt = {
    'KUBE-NODEPORTS': [],
    'KUBE-SERVICES': [],
    'KUBE-EXTERNAL-SERVICES': [],
    'KUBE-FIREWALL': [],
    'KUBE-FORWARD': [],
    'KUBE-PROXY-FIREWALL': [],
  };
  const nat = { services: [], nodeports: [], chains: new Map() };
  const add = (chain, rule) => {
    natChains.add(chain);
    if (!nat.chains.has(chain)) nat.chains.set(chain, []);
    nat.chains.get(chain).push(`-A ${chain} ${rule}`);
  };
  // SVC/SVL chain body: affinity checks first, then the random pick (probability 1/(n-i), 10 decimals)
  const lb = (chain, sp, eps) => {
    const sep = (e) => `KUBE-SEP-${hash(sp.spn + sp.proto + e.hostPort, 16)}`;
    if (sp.affinity)
      for (const e of eps)
        add(
          chain,
          `-m comment --comment ${q(`${sp.spn} -> ${e.hostPort}`)} -m recent --name ${sep(e)} --rcheck --seconds ${sp.affinity} --reap -j ${sep(e)}`,
        );
    eps.forEach((e, i) => {
      const stat =
        i < eps.length - 1 ? ` -m statistic --mode random --probability ${(1 / (eps.length - i)).toFixed(10)}` : '';
      add(chain, `-m comment --comment ${q(`${sp.spn} -> ${e.hostPort}`)}${stat} -j ${sep(e)}`);
    });
  };
  for (const sp of servicePorts()) {
    const { svc, port, proto, spn } = sp;
    const H = hash(spn + proto, 16);
    const SVC = `KUBE-SVC-${H}`;
    const EXT = `KUBE-EXT-${H}`;
    const SVL = `KUBE-SVL-${H}`;
    const m = `-m ${proto} -p ${proto}`;
    if (sp.eps.length === 0) {
      filt['KUBE-SERVICES'].push(
        `-A KUBE-SERVICES -m comment --comment ${q(`${spn} has no endpoints`)} ${m} -d ${svc.clusterIP} --dport ${port.port} -j REJECT`,
      );
      if (port.nodePort)
        filt['KUBE-EXTERNAL-SERVICES'].push(
          `-A KUBE-EXTERNAL-SERVICES -m comment --comment ${q(`${spn} has no endpoints`)} -m addrtype --dst-type LOCAL ${m} --dport ${port.nodePort} -j REJECT`,
        );
      continue;
    }
    nat.services.push(
      `-A KUBE-SERVICES -m comment --comment ${q(`${spn} cluster IP`)} ${m} -d ${svc.clusterIP} --dport ${port.port} -j ${SVC}`,
    );
    add(
      SVC,
      `-m comment --comment ${q(`${spn} cluster IP`)} ${m} -d ${svc.clusterIP} --dport ${port.port} ! -s ${cidr} -j KUBE-MARK-MASQ`,
    );
    lb(SVC, sp, sp.eps);
    if (port.nodePort) {
      // localhost NodePorts (route_localnet) first; kube-proxy adds `-m nfacct` only where the kernel has nfacct objects
      nat.nodeports.push(
        `-A KUBE-NODEPORTS -m comment --comment ${q(spn)} ${m} -d 127.0.0.0/8 --dport ${port.nodePort} -j ${EXT}`,
      );
      nat.nodeports.push(`-A KUBE-NODEPORTS -m comment --comment ${q(spn)} ${m} --dport ${port.nodePort} -j ${EXT}`);
      if (sp.etpLocal) {
        add(EXT, `-m comment --comment ${q(`pod traffic for ${spn} external destinations`)} -s ${cidr} -j ${SVC}`);
        add(
          EXT,
          `-m comment --comment ${q(`masquerade LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
        );
        add(
          EXT,
          `-m comment --comment ${q(`route LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j ${SVC}`,
        );
        if (sp.local.length > 0) {
          add(EXT, `-j ${SVL}`);
          lb(SVL, sp, sp.local);
        } else {
          filt['KUBE-EXTERNAL-SERVICES'].push(
            `-A KUBE-EXTERNAL-SERVICES -m comment --comment ${q(`${spn} has no local endpoints`)} -m addrtype --dst-type LOCAL ${m} --dport ${port.nodePort} -j DROP`,
          );
        }
        if (svc.healthCheckNodePort)
          filt['KUBE-NODEPORTS'].push(
            `-A KUBE-NODEPORTS -m comment --comment ${q(`${spn} health check node port`)} -m tcp -p tcp --dport ${svc.healthCheckNodePort} -j ACCEPT`,
          );
      } else {
        add(EXT, `-m comment --comment ${q(`masquerade traffic for ${spn} external destinations`)} -j KUBE-MARK-MASQ`);
        add(EXT, `-j ${SVC}`);
      }
    }
    for (const e of sp.eps) {
      const SEP = `KUBE-SEP-${hash(spn + proto + e.hostPort, 16)}`;
      add(SEP, `-m comment --comment ${q(spn)} -s ${e.ip} -j KUBE-MARK-MASQ`);
      const recent = sp.affinity ? ` -m recent --name ${SEP} --set` : '';
      add(SEP, `-m comment --comment ${q(spn)}${recent} ${m} -j DNAT --to-destination ${e.hostPort}`);
    }
  }
  filt['KUBE-FIREWALL'].push(
    '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
  );
  filt['KUBE-FORWARD'].push(
    '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  );
  // kubelet's own chains (KUBE-IPTABLES-HINT, KUBE-KUBELET-CANARY) and kube-proxy's canaries live in three tables
  const lines = [];
  const table = (name, builtins, chains, rules) => {
    lines.push(`*${name}`);
    for (const b of builtins) lines.push(`:${b} ACCEPT [0:0]`);
    for (const c of chains) lines.push(`:${c} - [0:0]`);
    lines.push(...rules, 'COMMIT');
  };
  table(
    'mangle',
    ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
    ['KUBE-IPTABLES-HINT', 'KUBE-KUBELET-CANARY', 'KUBE-PROXY-CANARY'],
    [],
  );
  table(
    'filter',
    ['INPUT', 'FORWARD', 'OUTPUT'],
    [...Object.keys(filt), 'KUBE-KUBELET-CANARY', 'KUBE-PROXY-CANARY'],
    [
      '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
      '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
      '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
      '-A INPUT -j KUBE-FIREWALL',
      '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
      '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
      '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
      '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
      '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A OUTPUT -j KUBE-FIREWALL',
      ...Object.values(filt).flat(),
    ],
  );
  const natRules = [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    ...nat.nodeports,
    ...nat.services,
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    // iptables 1.8.9 has --random-fully, so kube-proxy uses it
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    ...[...nat.chains.values()].flat(),
  ];
  table(
    'nat',
    ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
    [...natChains, 'KUBE-KUBELET-CANARY', 'KUBE-PROXY-CANARY'],
    natRules,
  );
  return lines.join('\n') + '\n';
}

// ---- kube-proxy, nftables mode (knftables transaction as in pkg/proxy/nftables/proxier_test.go) -------

function nft() {
  const base = (fam) => {
    const ip = fam === 'ip' ? 'ip' : 'ip6';
    const addr = fam === 'ip' ? 'ipv4_addr' : 'ipv6_addr';
    const T = `${fam} kube-proxy`;
    return {
      head: [
        `add table ${T} { comment "rules for kube-proxy" ; }`,
        `add set ${T} cluster-ips { type ${addr} ; comment "Active ClusterIPs" ; }`,
        `add set ${T} nodeport-ips { type ${addr} ; comment "IPs that accept NodePort traffic" ; }`,
        `add map ${T} firewall-ips { type ${addr} . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }`,
        `add map ${T} no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }`,
        `add map ${T} no-endpoint-services { type ${addr} . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }`,
        `add map ${T} service-ips { type ${addr} . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }`,
        `add map ${T} service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }`,
        `add chain ${T} cluster-ips-check`,
        `add chain ${T} filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }`,
        `add chain ${T} filter-output-pre-dnat { type filter hook output priority -110 ; }`,
        `add chain ${T} filter-forward { type filter hook forward priority 0 ; }`,
        `add chain ${T} filter-input { type filter hook input priority 0 ; }`,
        `add chain ${T} filter-output { type filter hook output priority 0 ; }`,
        `add chain ${T} firewall-check`,
        `add chain ${T} mark-for-masquerade`,
        `add chain ${T} masquerading`,
        `add chain ${T} nat-output { type nat hook output priority -100 ; }`,
        `add chain ${T} nat-postrouting { type nat hook postrouting priority 100 ; }`,
        `add chain ${T} nat-prerouting { type nat hook prerouting priority -100 ; }`,
        `add chain ${T} nodeport-endpoints-check`,
        `add chain ${T} reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }`,
        `add chain ${T} services`,
        `add chain ${T} service-endpoints-check`,
      ],
      rules: [
        `add rule ${T} cluster-ips-check ${ip} daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"`,
        // only the IPv4 family has a service CIDR in this single-stack cluster
        ...(fam === 'ip'
          ? [
              `add rule ${T} cluster-ips-check ip daddr { ${NODE.serviceCIDR} } drop comment "Drop traffic to unallocated ClusterIPs"`,
            ]
          : []),
        `add rule ${T} filter-prerouting-pre-dnat ct state new jump firewall-check`,
        `add rule ${T} filter-forward ct state new jump service-endpoints-check`,
        `add rule ${T} filter-forward ct state new jump cluster-ips-check`,
        `add rule ${T} filter-input ct state new jump nodeport-endpoints-check`,
        `add rule ${T} filter-input ct state new jump service-endpoints-check`,
        `add rule ${T} filter-output ct state new jump service-endpoints-check`,
        `add rule ${T} filter-output-pre-dnat ct state new jump firewall-check`,
        `add rule ${T} filter-output ct state new jump cluster-ips-check`,
        `add rule ${T} firewall-check ${ip} daddr . meta l4proto . th dport vmap @firewall-ips`,
        `add rule ${T} mark-for-masquerade mark set mark or 0x4000`,
        `add rule ${T} masquerading mark and 0x4000 == 0 return`,
        `add rule ${T} masquerading mark set mark xor 0x4000`,
        `add rule ${T} masquerading masquerade fully-random`,
        `add rule ${T} nat-output jump services`,
        `add rule ${T} nat-postrouting jump masquerading`,
        `add rule ${T} nat-prerouting jump services`,
        `add rule ${T} nodeport-endpoints-check ${ip} daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports`,
        `add rule ${T} reject-chain reject`,
        `add rule ${T} services ${ip} daddr . meta l4proto . th dport vmap @service-ips`,
        `add rule ${T} services ${ip} daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports`,
        `add rule ${T} service-endpoints-check ${ip} daddr . meta l4proto . th dport vmap @no-endpoint-services`,
      ],
      elements: [],
    };
  };
  const v4 = base('ip');
  const v6 = base('ip6');
  const T = 'ip kube-proxy';
  const chains = [];
  const rules = [];
  const el = v4.elements;
  el.push(`add element ${T} nodeport-ips { ${NODE.ip} }`);
  const cidr = NODE.clusterCIDR;
  // chain name bases: <H8>-ns/svc/proto/portName, endpoints add __ip/port
  const lb = (chain, sp, eps, epBase) => {
    if (sp.affinity)
      for (const e of eps)
        rules.push(`add rule ${T} ${chain} ip saddr @affinity-${epBase(e)} goto endpoint-${epBase(e)}`);
    const vm = eps.map((e, i) => `${i} : goto endpoint-${epBase(e)}`).join(' , ');
    rules.push(`add rule ${T} ${chain} numgen random mod ${eps.length} vmap { ${vm} }`);
  };
  for (const sp of servicePorts()) {
    const { svc, port, proto } = sp;
    const name = `${svc.ns}/${svc.name}/${proto}/${port.name}`;
    const b = `${hash(name, 8)}-${name}`;
    const epBase = (e) => {
      const n = `${name}__${e.ip}/${e.port}`;
      return `${hash(n, 8)}-${n}`;
    };
    el.push(`add element ${T} cluster-ips { ${svc.clusterIP} }`);
    if (sp.eps.length === 0) {
      el.push(
        `add element ${T} no-endpoint-services { ${svc.clusterIP} . ${proto} . ${port.port} comment "${svc.ns}/${svc.name}:${port.name}" : goto reject-chain }`,
      );
      continue;
    }
    chains.push(`add chain ${T} service-${b}`);
    rules.push(`add rule ${T} service-${b} ip daddr ${svc.clusterIP} ip saddr != ${cidr} jump mark-for-masquerade`);
    lb(`service-${b}`, sp, sp.eps, epBase);
    if (port.nodePort) {
      chains.push(`add chain ${T} external-${b}`);
      if (sp.etpLocal) {
        rules.push(
          `add rule ${T} external-${b} ip saddr ${cidr} goto service-${b} comment "short-circuit pod traffic"`,
        );
        rules.push(
          `add rule ${T} external-${b} fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"`,
        );
        rules.push(
          `add rule ${T} external-${b} fib saddr type local goto service-${b} comment "short-circuit local traffic"`,
        );
        if (sp.local.length > 0) {
          rules.push(`add rule ${T} external-${b} goto local-${b}`);
          chains.push(`add chain ${T} local-${b}`);
          lb(`local-${b}`, sp, sp.local, epBase);
        } else
          el.push(
            `add element ${T} no-endpoint-nodeports { ${proto} . ${port.nodePort} comment "${svc.ns}/${svc.name}:${port.name}" : drop }`,
          );
      } else {
        rules.push(`add rule ${T} external-${b} jump mark-for-masquerade`);
        rules.push(`add rule ${T} external-${b} goto service-${b}`);
      }
    }
    for (const e of sp.eps) {
      const eb = epBase(e);
      if (sp.affinity)
        v4.head.push(
          `add set ${T} affinity-${eb} { type ipv4_addr ; flags dynamic,timeout ; timeout ${sp.affinity}s ; }`,
        );
      chains.push(`add chain ${T} endpoint-${eb}`);
      rules.push(`add rule ${T} endpoint-${eb} ip saddr ${e.ip} jump mark-for-masquerade`);
      if (sp.affinity) rules.push(`add rule ${T} endpoint-${eb} update @affinity-${eb} { ip saddr }`);
      rules.push(`add rule ${T} endpoint-${eb} meta l4proto ${proto} dnat to ${e.hostPort}`);
    }
    el.push(`add element ${T} service-ips { ${svc.clusterIP} . ${proto} . ${port.port} : goto service-${b} }`);
    if (port.nodePort)
      el.push(`add element ${T} service-nodeports { ${proto} . ${port.nodePort} : goto external-${b} }`);
  }
  // definitions before use, as `nft -f` needs them
  return [...v4.head, ...chains, ...v4.rules, ...rules, ...v4.elements, '', ...v6.head, ...v6.rules].join('\n') + '\n';
}

// ---- kube-proxy, IPVS mode (pkg/proxy/ipvs/proxier.go, ipset.go) ------------------------------

// kube-proxy's sets in the order of its ipsetInfo table, with the comment it puts on the iptables rule that matches each
const IPSETS = [
  ['KUBE-LOOP-BACK', 'hash:ip,port,ip', 'Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose'],
  ['KUBE-CLUSTER-IP', 'hash:ip,port', 'Kubernetes service cluster ip + port for masquerade purpose'],
  ['KUBE-EXTERNAL-IP', 'hash:ip,port', 'Kubernetes service external ip + port for masquerade and filter purpose'],
  ['KUBE-EXTERNAL-IP-LOCAL', 'hash:ip,port', 'Kubernetes service external ip + port with externalTrafficPolicy=local'],
  ['KUBE-LOAD-BALANCER', 'hash:ip,port', 'Kubernetes service lb portal'],
  [
    'KUBE-LOAD-BALANCER-FW',
    'hash:ip,port',
    'Kubernetes service load balancer ip + port for load balancer with sourceRange',
  ],
  [
    'KUBE-LOAD-BALANCER-LOCAL',
    'hash:ip,port',
    'Kubernetes service load balancer ip + port with externalTrafficPolicy=local',
  ],
  [
    'KUBE-LOAD-BALANCER-SOURCE-IP',
    'hash:ip,port,ip',
    'Kubernetes service load balancer ip + port + source IP for packet filter purpose',
  ],
  [
    'KUBE-LOAD-BALANCER-SOURCE-CIDR',
    'hash:ip,port,net',
    'Kubernetes service load balancer ip + port + source cidr for packet filter purpose',
  ],
  ['KUBE-NODE-PORT-TCP', 'bitmap:port', 'Kubernetes nodeport TCP port for masquerade purpose'],
  ['KUBE-NODE-PORT-LOCAL-TCP', 'bitmap:port', 'Kubernetes nodeport TCP port with externalTrafficPolicy=local'],
  ['KUBE-NODE-PORT-UDP', 'bitmap:port', 'Kubernetes nodeport UDP port for masquerade purpose'],
  ['KUBE-NODE-PORT-LOCAL-UDP', 'bitmap:port', 'Kubernetes nodeport UDP port with externalTrafficPolicy=local'],
  [
    'KUBE-NODE-PORT-SCTP-HASH',
    'hash:ip,port',
    "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'",
  ],
  [
    'KUBE-NODE-PORT-LOCAL-SCTP-HASH',
    'hash:ip,port',
    "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'",
  ],
  ['KUBE-HEALTH-CHECK-NODE-PORT', 'bitmap:port', 'Kubernetes health check node port'],
  ['KUBE-IPVS-IPS', 'hash:ip', 'Addresses on the ipvs interface'],
];

function ipvsEntries() {
  const e = Object.fromEntries(IPSETS.map(([n]) => [n, new Set()]));
  for (const sp of servicePorts()) {
    const { svc, port, proto } = sp;
    for (const ep of sp.local) e['KUBE-LOOP-BACK'].add(`${ep.ip},${proto}:${ep.port},${ep.ip}`);
    e['KUBE-CLUSTER-IP'].add(`${svc.clusterIP},${proto}:${port.port}`);
    e['KUBE-IPVS-IPS'].add(svc.clusterIP);
    if (port.nodePort) {
      e[`KUBE-NODE-PORT-${proto.toUpperCase()}`].add(String(port.nodePort));
      if (sp.etpLocal) e[`KUBE-NODE-PORT-LOCAL-${proto.toUpperCase()}`].add(String(port.nodePort));
    }
    if (svc.healthCheckNodePort) e['KUBE-HEALTH-CHECK-NODE-PORT'].add(String(svc.healthCheckNodePort));
  }
  return e;
}

// kube-proxy's util/ipset creates hash sets with family/hashsize/maxelem and bitmaps with a port range
function ipvsIpset() {
  const e = ipvsEntries();
  const out = [];
  for (const [name, type] of IPSETS) {
    out.push(
      type === 'bitmap:port'
        ? `create ${name} ${type} range 0-65535`
        : `create ${name} ${type} family inet hashsize 1024 maxelem 65536`,
    );
    for (const v of e[name]) out.push(`add ${name} ${v}`);
  }
  return out.join('\n') + '\n';
}

function ipvsIptables() {
  const e = ipvsEntries();
  const comment = Object.fromEntries(IPSETS.map(([n, , c]) => [n, c]));
  const nat = ['-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN'];
  const filter = [];
  // ipsetWithIptablesChain, for the sets that have entries
  const withChain = [
    ['KUBE-LOOP-BACK', 'nat', 'KUBE-POSTROUTING', 'MASQUERADE', 'dst,dst,src', ''],
    ['KUBE-LOAD-BALANCER', 'nat', 'KUBE-SERVICES', 'KUBE-LOAD-BALANCER', 'dst,dst', ''],
    ['KUBE-LOAD-BALANCER-LOCAL', 'nat', 'KUBE-LOAD-BALANCER', 'RETURN', 'dst,dst', ''],
    ['KUBE-NODE-PORT-LOCAL-TCP', 'nat', 'KUBE-NODE-PORT', 'RETURN', 'dst', 'tcp'],
    ['KUBE-NODE-PORT-TCP', 'nat', 'KUBE-NODE-PORT', 'KUBE-MARK-MASQ', 'dst', 'tcp'],
    ['KUBE-NODE-PORT-LOCAL-UDP', 'nat', 'KUBE-NODE-PORT', 'RETURN', 'dst', 'udp'],
    ['KUBE-NODE-PORT-UDP', 'nat', 'KUBE-NODE-PORT', 'KUBE-MARK-MASQ', 'dst', 'udp'],
    ['KUBE-NODE-PORT-LOCAL-SCTP-HASH', 'nat', 'KUBE-NODE-PORT', 'RETURN', 'dst,dst', 'sctp'],
    ['KUBE-NODE-PORT-SCTP-HASH', 'nat', 'KUBE-NODE-PORT', 'KUBE-MARK-MASQ', 'dst,dst', 'sctp'],
    ['KUBE-LOAD-BALANCER-FW', 'filter', 'KUBE-PROXY-FIREWALL', 'KUBE-SOURCE-RANGES-FIREWALL', 'dst,dst', ''],
    ['KUBE-LOAD-BALANCER-SOURCE-CIDR', 'filter', 'KUBE-SOURCE-RANGES-FIREWALL', 'RETURN', 'dst,dst,src', ''],
    ['KUBE-LOAD-BALANCER-SOURCE-IP', 'filter', 'KUBE-SOURCE-RANGES-FIREWALL', 'RETURN', 'dst,dst,src', ''],
  ];
  for (const [set, table, from, to, match, p] of withChain) {
    if (e[set].size === 0) continue;
    (table === 'nat' ? nat : filter).push(
      `-A ${from}${p ? ` -p ${p}` : ''} -m comment --comment "${comment[set]}" -m set --match-set ${set} ${match} -j ${to}`,
    );
  }
  if (e['KUBE-CLUSTER-IP'].size)
    nat.push(
      `-A KUBE-SERVICES -m comment --comment "${comment['KUBE-CLUSTER-IP']}" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s ${NODE.clusterCIDR} -j KUBE-MARK-MASQ`,
    );
  nat.push(
    '-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT',
    '-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ',
  );
  filter.push('-A KUBE-SOURCE-RANGES-FIREWALL -j DROP');
  if (e['KUBE-CLUSTER-IP'].size) nat.push('-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT');
  filter.push(
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    `-A KUBE-NODE-PORT -m comment --comment "${comment['KUBE-HEALTH-CHECK-NODE-PORT']}" -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT`,
    '-A KUBE-IPVS-FILTER -m set --match-set KUBE-LOAD-BALANCER dst,dst -j RETURN',
    '-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN',
    '-A KUBE-IPVS-FILTER -m set --match-set KUBE-EXTERNAL-IP dst,dst -j RETURN',
    '-A KUBE-IPVS-FILTER -m set --match-set KUBE-EXTERNAL-IP-LOCAL dst,dst -j RETURN',
    '-A KUBE-IPVS-FILTER -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j RETURN',
    '-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT',
  );
  nat.push(
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
  );
  // the jumps from the built-in chains are prepended one by one, so the last one listed ends up first
  const lines = [
    '*mangle',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ':KUBE-IPTABLES-HINT - [0:0]',
    ':KUBE-KUBELET-CANARY - [0:0]',
    'COMMIT',
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ...[
      'KUBE-FORWARD',
      'KUBE-NODE-PORT',
      'KUBE-PROXY-FIREWALL',
      'KUBE-SOURCE-RANGES-FIREWALL',
      'KUBE-IPVS-FILTER',
      'KUBE-IPVS-OUT-FILTER',
      'KUBE-KUBELET-CANARY',
    ].map((c) => `:${c} - [0:0]`),
    '-A INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER',
    '-A INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
    '-A INPUT -m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT',
    '-A FORWARD -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
    '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
    '-A OUTPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER',
    ...filter,
    'COMMIT',
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ...[
      'KUBE-SERVICES',
      'KUBE-POSTROUTING',
      'KUBE-NODE-PORT',
      'KUBE-LOAD-BALANCER',
      'KUBE-MARK-MASQ',
      'KUBE-KUBELET-CANARY',
    ].map((c) => `:${c} - [0:0]`),
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    ...nat,
    'COMMIT',
  ];
  return lines.join('\n') + '\n';
}

// `ipvsadm -Sn` (ipvsadm.c print_service_entry with FMT_RULE): services sorted by protocol, address, port
// (libipvs ipvs_cmp_services), destinations by address, port; kube-proxy uses rr, masquerading, weight 1
function ipvsadm() {
  const vs = [];
  for (const sp of servicePorts()) {
    const base = { proto: sp.proto, persist: sp.affinity };
    vs.push({ ...base, ip: sp.svc.clusterIP, port: sp.port.port, eps: sp.eps });
    if (sp.port.nodePort)
      for (const ip of NODE.localAddresses)
        vs.push({ ...base, ip, port: sp.port.nodePort, eps: sp.etpLocal && sp.local.length ? sp.local : sp.eps });
  }
  const num = (ip) => ip.split('.').reduce((a, b) => a * 256 + Number(b), 0);
  const P = { tcp: 6, udp: 17, sctp: 132 };
  vs.sort((a, b) => P[a.proto] - P[b.proto] || num(a.ip) - num(b.ip) || a.port - b.port);
  const out = [];
  for (const v of vs) {
    const sw = v.proto === 'tcp' ? '-t' : v.proto === 'udp' ? '-u' : '--sctp-service';
    const svc = `${sw} ${v.ip}:${v.port}`;
    out.push(`-A ${svc} -s rr${v.persist ? ` -p ${v.persist}` : ''}`);
    for (const e of [...v.eps].sort((a, b) => num(a.ip) - num(b.ip) || a.port - b.port))
      out.push(`-a ${svc} -r ${e.ip}:${e.port} -m -w 1`);
  }
  return out.join('\n') + '\n';
}

// ---- Cilium 1.19 LB maps (key carries the L4 protocol; backend v1.16+ layout) --------------------

const PROTO = { tcp: 6, udp: 17, sctp: 132 };
const ipBytes = (ip) => ip.split('.').map(Number);
const be16 = (n) => [(n >> 8) & 255, n & 255];
const le16 = (n) => [n & 255, (n >> 8) & 255];
const le32 = (n) => [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255];
const hx = (a) => a.map((b) => b.toString(16).padStart(2, '0')).join(' ');

/** Frontends as Cilium programs them: ClusterIP always; with KPR also NodePort (surrogate 0.0.0.0 and the node IP). */
export function ciliumFrontends(kpr, omit = []) {
  const fes = [];
  for (const sp of servicePorts()) {
    if (omit.includes(`${sp.svc.ns}/${sp.svc.name}`)) continue;
    // without KPR Cilium only load-balances ClusterIP per packet, and session affinity is off
    const aff = kpr ? sp.affinity : 0;
    fes.push({
      sp,
      ip: sp.svc.clusterIP,
      port: sp.port.port,
      flags: aff ? 0x10 : 0,
      flags2: 0,
      affinity: aff,
      scopes: [[0, sp.eps]],
    });
    if (kpr && sp.port.nodePort) {
      for (const [ip, routable] of [
        ['0.0.0.0', 0],
        [NODE.ip, 0x40],
      ]) {
        const local = sp.etpLocal ? 0x04 : 0;
        // eTP=Local with iTP=Cluster: two scopes, external (local backends) and internal (all)
        const scopes = sp.etpLocal
          ? [
              [0, sp.local],
              [1, sp.eps],
            ]
          : [[0, sp.eps]];
        fes.push({
          sp,
          ip,
          port: sp.port.nodePort,
          flags: 0x02 | local | routable,
          flags2: sp.etpLocal ? 0x20 : 0,
          affinity: 0,
          scopes,
        });
      }
    }
  }
  return fes;
}

function lbmaps(kpr, omit) {
  const G = '/sys/fs/bpf/tc/globals';
  const out = [
    `map create ${G}/cilium_lb4_services_v2 type hash key 12 value 12 entries 65536 name cilium_lb4_serv flags 1`,
    `map create ${G}/cilium_lb4_backends_v3 type hash key 4 value 12 entries 65536 name cilium_lb4_back flags 1`,
    `map create ${G}/cilium_lb4_reverse_nat type hash key 2 value 6 entries 65536 name cilium_lb4_reve flags 1`,
  ];
  const backendIds = new Map();
  let revNat = 0;
  const upd = (m, k, v) => out.push(`map update pinned ${G}/${m} key hex ${hx(k)} value hex ${hx(v)}`);
  // ids follow the order of services.json (the agent allocates them as it learns the Services)
  for (const fe of ciliumFrontends(kpr, omit)) {
    const id = ++revNat;
    const proto = PROTO[fe.sp.proto];
    for (const [scope, eps] of fe.scopes) {
      const key = (slot) => [...ipBytes(fe.ip), ...be16(fe.port), ...le16(slot), proto, scope, 0, 0];
      upd('cilium_lb4_services_v2', key(0), [
        ...le32(fe.affinity),
        ...le16(eps.length),
        ...be16(id),
        fe.flags,
        fe.flags2,
        0,
        0,
      ]);
      eps.forEach((e, i) => {
        const bk = `${e.ip}:${e.port}/${proto}`;
        if (!backendIds.has(bk)) {
          backendIds.set(bk, backendIds.size + 1);
          upd('cilium_lb4_backends_v3', le32(backendIds.size), [
            ...ipBytes(e.ip),
            ...be16(e.port),
            proto,
            0,
            0,
            0,
            0,
            0,
          ]);
        }
        upd('cilium_lb4_services_v2', key(i + 1), [
          ...le32(backendIds.get(bk)),
          0,
          0,
          ...be16(id),
          fe.flags,
          fe.flags2,
          0,
          0,
        ]);
      });
    }
    upd('cilium_lb4_reverse_nat', be16(id), [...ipBytes(fe.ip), ...be16(fe.port)]);
  }
  return out.join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [cmd, ...rest] = process.argv.slice(2);
  const omit = [];
  for (let i = 0; i < rest.length; i++) if (rest[i] === '--omit') omit.push(rest[++i]);
  if (cmd === 'iptables') process.stdout.write(iptables());
  else if (cmd === 'nft') process.stdout.write(nft());
  else if (cmd === 'ipvs-ipset') process.stdout.write(ipvsIpset());
  else if (cmd === 'ipvs-iptables') process.stdout.write(ipvsIptables());
  else if (cmd === 'ipvsadm') process.stdout.write(ipvsadm());
  else if (cmd === 'ipvs-vips') process.stdout.write([...ipvsEntries()['KUBE-IPVS-IPS']].join('\n') + '\n');
  else if (cmd === 'lbmaps' && (rest[0] === 'kpr' || rest[0] === 'nokpr'))
    process.stdout.write(lbmaps(rest[0] === 'kpr', omit));
  else if (cmd === 'hash') process.stdout.write(hash(rest[0], Number(rest[1] ?? 16)) + '\n');
  else {
    console.error(
      'usage: gen.mjs iptables | nft | ipvs-ipset | ipvs-iptables | ipvsadm | ipvs-vips | lbmaps kpr|nokpr [--omit ns/name] | hash STRING [N]',
    );
    process.exit(2);
  }
}
