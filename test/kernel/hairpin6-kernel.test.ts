import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { addNetns, canUseNetns, delNetns, ipIn, sysctlIn, uniqueName } from '../helpers/netns.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

// What the kernel does with the packet Cilium 1.13–1.18 hands back to a pod that reached itself through its own
// IPv6 Service translated per packet (rule lb6-no-loopback-snat, docs/cilium-datapath.md "IPv6 hairpin"): a TCP SYN
// whose source and destination are both the pod's address, arriving on the pod's veth. A "pod" namespace with a
// listener, and a "host" namespace that sends that SYN (a connect() bound to the pod's address, which the host
// does not own: ip_nonlocal_bind). The trace says the packet is delivered and its answer stays in the pod over lo and
// never completes the connection; the pod's own counters must say the same.
const POD = uniqueName('npF-pod');
const HOST = uniqueName('npF-host');
const ADDR = '2001:db8:f::5';

/** One counter of the pod's /proc/net/{snmp6,snmp,netstat} (`Ip6InDelivers`, `Tcp:OutRsts`, `TcpExt:EmbryonicRsts`). */
function counter(file: 'snmp6' | 'snmp' | 'netstat', name: string): number {
  const text = execFileSync('ip', ['netns', 'exec', POD, 'cat', `/proc/net/${file}`], { encoding: 'utf8' });
  if (file === 'snmp6') {
    const l = text.split('\n').find((x) => x.split(/\s+/)[0] === name);
    if (!l) throw new Error(`${name} not in /proc/net/snmp6`);
    return Number(l.split(/\s+/)[1]);
  }
  // header line and value line per group: `Tcp: … OutRsts …` then `Tcp: … 3 …`
  const [group, key] = name.split(':') as [string, string];
  const lines = text.split('\n').filter((x) => x.startsWith(`${group}:`));
  const keys = lines[0]!.split(/\s+/);
  const vals = lines[1]!.split(/\s+/);
  const i = keys.indexOf(key);
  if (i < 0) throw new Error(`${name} not in /proc/net/${file}`);
  return Number(vals[i]);
}

function loTx(): number {
  const j = JSON.parse(ipIn(POD, ['-j', '-s', 'link', 'show', 'lo'])) as { stats64: { tx: { packets: number } } }[];
  return j[0]!.stats64.tx.packets;
}

/** Runs a node script in a namespace; resolves with what it printed once it exits. */
function nodeIn(ns: string, script: string): { child: ChildProcess; done: Promise<string> } {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, done: new Promise((r) => child.on('exit', () => r(out))) };
}

describe.skipIf(!canUseNetns())(
  'IPv6: a SYN from the pod’s own address, handed back to the pod (no service loopback)',
  () => {
    let listener: { child: ChildProcess; done: Promise<string> } | undefined;

    beforeAll(async () => {
      delNetns(POD, HOST);
      addNetns(POD, HOST);
      ipIn(POD, ['link', 'set', 'lo', 'up']);
      ipIn(HOST, ['link', 'add', 'npFh0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', POD]);
      ipIn(POD, ['link', 'set', 'eth0', 'up']);
      ipIn(HOST, ['link', 'set', 'npFh0', 'up']);
      ipIn(POD, ['addr', 'add', `${ADDR}/64`, 'dev', 'eth0', 'nodad']);
      ipIn(HOST, ['route', 'add', `${ADDR}/128`, 'dev', 'npFh0']);
      sysctlIn(HOST, ['net.ipv6.ip_nonlocal_bind=1']);
      listener = nodeIn(
        POD,
        "require('net').createServer().listen(80, '::', () => console.log('listening')); setTimeout(() => process.exit(0), 20000)",
      );
      await new Promise<void>((resolve, reject) => {
        listener!.child.stdout!.on('data', (d) => String(d).includes('listening') && resolve());
        listener!.child.on('exit', () => reject(new Error('listener exited')));
      });
    });

    afterAll(() => {
      listener?.child.kill();
      delNetns(POD, HOST);
    });

    it('is delivered, answered over lo, reset, and the connection never completes', async () => {
      const before = {
        delivers: counter('snmp6', 'Ip6InDelivers'),
        rsts: counter('snmp', 'Tcp:OutRsts'),
        embryonic: counter('netstat', 'TcpExt:EmbryonicRsts'),
        lo: loTx(),
      };
      const client = nodeIn(
        HOST,
        `const s = require('net').connect({ host: '${ADDR}', port: 80, localAddress: '${ADDR}' });
       s.on('connect', () => { console.log('connected'); process.exit(0); });
       s.on('error', (e) => { console.log('error ' + e.code); process.exit(0); });
       setTimeout(() => { console.log('no answer'); process.exit(0); }, 3000);`,
      );
      const said = (await client.done).trim();
      // the host (standing in for the client socket that waits on the frontend) hears nothing back
      expect(said).toBe('no answer');
      // the pod took the SYN from its own address (IPv6 has no martian-source check for it)
      expect(counter('snmp6', 'Ip6InDelivers')).toBeGreaterThan(before.delivers);
      // its SYN-ACK went to itself over lo, matched no socket there, and the reset killed the half-open connection
      expect(loTx()).toBeGreaterThan(before.lo);
      expect(counter('snmp', 'Tcp:OutRsts')).toBeGreaterThan(before.rsts);
      expect(counter('netstat', 'TcpExt:EmbryonicRsts')).toBeGreaterThan(before.embryonic);
    });
  },
);
