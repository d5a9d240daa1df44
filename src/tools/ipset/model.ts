import type { Evidence, Family } from '../../model/types.js';

/** One member of a set, as `ipset` prints it, split by the set's type where the type is known. */
export interface IpSetMember {
  /** the member as printed, without its options (`10.96.0.10,udp:53`, `31940`) */
  text: string;
  comment?: string;
  /** hash:ip*, the first address */
  ip?: string;
  /** hash:*port*: the protocol word (`tcp`, `udp`, `sctp`, or a number from old ipset versions) */
  proto?: string;
  port?: number;
  /** hash:ip,port,ip: the second address (kube-proxy: the source of a hairpin) */
  ip2?: string;
  /** hash:ip,port,net / hash:net*: the prefix */
  net?: string;
  source: Evidence;
}

export interface IpSet {
  name: string;
  /** `hash:ip,port`, `bitmap:port`, … */
  type: string;
  family?: Family;
  /** the create options / `Header:` line */
  header: string;
  /** `References:` of `ipset list`: how many iptables rules use the set (`ipset save` does not say) */
  references?: number;
  /** `Number of entries:` (ipset list), else the members counted */
  entries: number;
  /** false for `ipset list -t` (terse: headers only) */
  membersListed: boolean;
  members: IpSetMember[];
  source: Evidence;
}
