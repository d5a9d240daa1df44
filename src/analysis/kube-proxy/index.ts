export { commentServiceName, kubeProxyServicesFromIptables } from './iptables.js';
export { kubeProxyServicesFromNft, nftChainServiceName } from './nft.js';
