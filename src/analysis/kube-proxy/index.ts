export { commentServiceName, kubeProxyServicesFromIptables } from './iptables.js';
export { kubeProxyServicesFromNft, nftChainServiceName } from './nft.js';

import type { KubeProxyReader } from '../../collect/load-services.js';
import { kubeProxyServicesFromIptables } from './iptables.js';
import { iptablesLinesNeeded } from './iptables-lines.js';
import { kubeProxyServicesFromNft } from './nft.js';

/** kube-proxy's rules read as Services: what the commands hand to loadServices. */
export const kubeProxyReader: KubeProxyReader = {
  servicesFromIptables: kubeProxyServicesFromIptables,
  servicesFromNft: kubeProxyServicesFromNft,
  linesNeeded: iptablesLinesNeeded,
};
