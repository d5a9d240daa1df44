export { parseNftRuleset } from './parse-nft.js';
