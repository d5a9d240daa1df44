// Chain-name tests that the diff's iptables worker (diff-before-chains.ts) needs, in a module of their own:
// importing them from diff-behaviour.ts made the bundled worker load the Cilium config reader and zod.

/** The portmap CNI plugin's per-container DNAT chains: all of the iptables hostPortChange reads. */
export const isPortmapChain = (table: string, chain: string): boolean => table === 'nat' && /^CNI-DN-/.test(chain);
