import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWgDump, redactWgDump } from '../../../src/tools/wg/index.js';

// Redaction proved on real `wg show all dump` output: a wireguard-go device in a namespace of
// our own, with a private key and a preshared key that must not survive redaction.

const onPath = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const skipReason =
  process.getuid?.() !== 0
    ? 'needs root'
    : !existsSync('/dev/net/tun')
      ? 'no /dev/net/tun'
      : !onPath('wireguard-go') || !onPath('wg')
        ? 'wireguard-go or wg not installed'
        : '';

const tag = String(process.pid % 100000);
const ns = `np-h2-wgt${tag}`;
const ifname = `h2w${tag}`;
const sock = `/var/run/wireguard/${ifname}.sock`;

describe.skipIf(skipReason !== '')(
  `wg dump redaction on a real wireguard-go device${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let dir = '';
    let child: ChildProcess | undefined;
    const keys = { priv: '', pub: '', psk: '', peerB: '', peerC: '' };
    let allDump = '';
    let ifDump = '';

    const wg = (...args: string[]) =>
      execFileSync('ip', ['netns', 'exec', ns, 'wg', ...args], { encoding: 'utf8', timeout: 10_000 });
    const genkey = () => execFileSync('wg', ['genkey'], { encoding: 'utf8' }).trim();
    const pubkey = (k: string) => execFileSync('wg', ['pubkey'], { input: k, encoding: 'utf8' }).trim();

    function cleanup(): void {
      if (child?.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
      }
      spawnSync('ip', ['netns', 'del', ns]);
      if (existsSync(sock)) rmSync(sock, { force: true });
      if (dir) rmSync(dir, { recursive: true, force: true });
    }

    beforeAll(async () => {
      try {
        dir = mkdtempSync(join(tmpdir(), 'np-h2-wg-'));
        chmodSync(dir, 0o700);
        keys.priv = genkey();
        keys.pub = pubkey(keys.priv);
        keys.psk = execFileSync('wg', ['genpsk'], { encoding: 'utf8' }).trim();
        keys.peerB = pubkey(genkey());
        keys.peerC = pubkey(genkey());
        writeFileSync(join(dir, 'priv'), keys.priv + '\n', { mode: 0o600 });
        writeFileSync(join(dir, 'psk'), keys.psk + '\n', { mode: 0o600 });
        execFileSync('ip', ['netns', 'add', ns]);
        child = spawn('ip', ['netns', 'exec', ns, 'wireguard-go', '-f', ifname], { stdio: 'ignore' });
        for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
        if (!existsSync(sock)) throw new Error(`wireguard-go did not create ${sock}`);
        wg(
          'set',
          ifname,
          'private-key',
          join(dir, 'priv'),
          'listen-port',
          '51820',
          'fwmark',
          '0x1',
          'peer',
          keys.peerB,
          'preshared-key',
          join(dir, 'psk'),
          'allowed-ips',
          '10.99.0.2/32,2001:db8:99::2/128',
          'endpoint',
          '198.51.100.2:51821',
          'persistent-keepalive',
          '25',
          'peer',
          keys.peerC,
          'allowed-ips',
          '10.99.0.3/32',
        );
        allDump = wg('show', 'all', 'dump');
        ifDump = wg('show', ifname, 'dump');
      } catch (e) {
        cleanup();
        throw e;
      }
    });

    afterAll(() => {
      cleanup();
      expect(existsSync(`/run/netns/${ns}`)).toBe(false);
    });

    it('the raw dump really holds the private and preshared keys (so the next test can fail)', () => {
      expect(allDump).toContain(keys.priv);
      expect(allDump).toContain(keys.psk);
      expect(ifDump).toContain(keys.priv);
    });

    it('redaction removes both secrets from `wg show all dump` and `wg show IFACE dump`, keeping public keys', () => {
      for (const raw of [allDump, ifDump]) {
        const red = redactWgDump(raw);
        expect(red).not.toContain(keys.priv);
        expect(red).not.toContain(keys.psk);
        for (const k of [keys.pub, keys.peerB, keys.peerC]) expect(red).toContain(k);
        expect(red.split('\n')).toHaveLength(raw.split('\n').length);
      }
      // on our device's lines every key left is a public one
      const ours = redactWgDump(allDump)
        .split('\n')
        .filter((l) => l.startsWith(`${ifname}\t`));
      const left = ours.join('\n').match(/[A-Za-z0-9+/]{43}=/g) ?? [];
      expect(new Set(left)).toEqual(new Set([keys.pub, keys.peerB, keys.peerC]));
    });

    it('the redacted dump parses into the device as configured', () => {
      const dev = parseWgDump(redactWgDump(allDump), 'wg').value.find((d) => d.name === ifname);
      expect(dev).toMatchObject({ name: ifname, publicKey: keys.pub, listenPort: 51820, fwmark: 1 });
      const byKey = new Map(dev!.peers.map((p) => [p.publicKey, p]));
      expect(byKey.get(keys.peerB)).toMatchObject({
        endpoint: '198.51.100.2:51821',
        allowedIps: ['10.99.0.2/32', '2001:db8:99::2/128'],
        persistentKeepalive: 25,
      });
      expect(byKey.get(keys.peerC)).toMatchObject({ allowedIps: ['10.99.0.3/32'] });
      expect(byKey.get(keys.peerC)!.endpoint).toBeUndefined();
      expect(JSON.stringify(dev)).not.toContain(keys.priv);
      expect(JSON.stringify(dev)).not.toContain(keys.psk);
    });
  },
);
