export * from './iptables-model.js';
export { parseIptablesSave, tokenize } from './parse-iptables.js';
export { applyIptablesRestore, commentServiceName, kubeProxyServicesFromIptables } from './kube-iptables.js';
export {
  traceKubeProxyIptables,
  type KubeProxyFlow,
  type KubeProxyTraceBranch,
  type KubeProxyTraceResult,
} from './trace-iptables.js';
export * from './nft-model.js';
export { parseNftRuleset } from './parse-nft.js';
export { kubeProxyServicesFromNft, nftChainServiceName } from './kube-nft.js';
export { ipvsVipsFromAddrs, parseIpvsadm, type IpvsOptions } from './parse-ipvsadm.js';
