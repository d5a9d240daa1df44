export { parseCiliumStatus } from './status.js';
export { parseCiliumEndpoints } from './endpoints.js';
export { parseCiliumConfig, configValue, configKey, type CiliumConfig } from './config.js';
export { parseCiliumIpcache, decodeIpcacheMap, ipcacheEntryShape } from './ipcache.js';
export { parseCiliumEgressList } from './egress.js';
export { parseCiliumEncryptStatus } from './encrypt.js';
