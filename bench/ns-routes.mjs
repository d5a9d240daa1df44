// `ip -batch` lines that load a bench snapshot's policy rules and routes into a namespace (bench/run.js's kernel
// part and bench/live-ns.mjs share them).
export function ruleArgs(r) {
  const from = r.src === 'all' ? 'from all' : `from ${r.src}${r.srclen !== undefined ? '/' + r.srclen : ''}`;
  const parts = [`pref ${r.priority}`, from];
  if (r.fwmark) parts.push(`fwmark ${r.fwmark}${r.fwmask ? '/' + r.fwmask : ''}`);
  if (r.iif) parts.push(`iif ${r.iif}`);
  parts.push(`table ${r.table}`);
  return parts.join(' ');
}
// Only the routes the kernel would not create itself from the addresses (no local/broadcast/kernel).
export function routeArgs(r) {
  if (r.table === 'local' || r.protocol === 'kernel') return undefined;
  if (r.type === 'throw') return `route add throw ${r.dst} table ${r.table} proto ${r.protocol}`;
  if (r.type !== 'unicast' || !r.dev) return undefined;
  if (r.dev !== 'eth0' && r.dev !== 'cilium_host') return undefined;
  const via = r.gateway ? ` via ${r.gateway}` : '';
  const metric = r.metric !== undefined ? ` metric ${r.metric}` : '';
  const scope = r.scope === 'link' ? ' scope link' : '';
  const src = r.prefsrc ? ` src ${r.prefsrc}` : '';
  return `route add ${r.dst}${via} dev ${r.dev} table ${r.table} proto ${r.protocol}${metric}${scope}${src}`;
}
