// Every renderer output.ts may call, in one module so the registry can load them lazily (see R in output.ts).
export { renderTraceText, resultLine } from './text.js';
export { diffContract, traceContract } from './json.js';
export { renderDiffText } from './diff.js';
export { journeyResultLine, renderJourneyText } from './journey.js';
export { renderSvcQuiet, renderSvcText, svcContract } from './svc.js';
export { renderJourneyTable, renderSvcTable, renderTraceTable } from './table.js';
export { nodeContract, renderNodeQuiet, renderNodeText } from './node.js';
export { checkContract, checkResultLine, renderCheckText } from './check.js';
