export { parseCiliumStatus } from './status.js';
export { parseCiliumEndpoints } from './endpoints.js';
export { parseCiliumConfig, configValue, configKey, type CiliumConfig } from './config.js';
