import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readTar, readTarGz, safeMemberPath, TarError } from '../../src/collect/tar.js';
import { openSnapshot } from '../../src/collect/source.js';

/** One ustar header + data, built by hand so hostile members (../, links, devices) can be made. */
function member(name: string, data: string, type = '0'): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(Buffer.byteLength(data).toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const body = Buffer.alloc(Math.ceil(Buffer.byteLength(data) / 512) * 512);
  body.write(data);
  return Buffer.concat([h, body]);
}
const end = Buffer.alloc(1024);

describe('tar reader', () => {
  it('reads an archive made by GNU tar, stripping the top directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'np-tar-'));
    try {
      mkdirSync(join(dir, 'snap/netns/cni-1'), { recursive: true });
      writeFileSync(join(dir, 'snap/uname.txt'), '6.18.44\n');
      writeFileSync(join(dir, 'snap/netns/cni-1/ip-addr.json'), '[]\n');
      symlinkSync('/etc/passwd', join(dir, 'snap/ip-link.txt'));
      execFileSync('tar', ['-czf', join(dir, 's.tar.gz'), '-C', dir, 'snap']);
      const { files, skipped } = readTarGz(readFileSync(join(dir, 's.tar.gz')));
      expect(files.get('snap/uname.txt')?.toString()).toBe('6.18.44\n');
      expect(files.has('snap/netns/cni-1/ip-addr.json')).toBe(true);
      expect(files.has('snap/ip-link.txt')).toBe(false);
      expect(skipped.join('\n')).toMatch(/snap\/ip-link.txt: not a regular file/);
      const opened = await openSnapshot(join(dir, 's.tar.gz'));
      expect((await opened.source.read('uname'))?.text).toBe('6.18.44\n');
      expect(await opened.source.list('netns')).toEqual(['cni-1']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses traversal, absolute paths, links and device nodes, keeping the rest', () => {
    const tar = Buffer.concat([
      member('../../etc/cron.d/x', 'evil'),
      member('/etc/shadow', 'evil'),
      member('a/../../b', 'evil'),
      member('link', '', '2'),
      member('dev', '', '3'),
      member('ok.txt', 'fine'),
      end,
    ]);
    const { files, skipped } = readTar(tar);
    expect([...files.keys()]).toEqual(['ok.txt']);
    expect(skipped).toHaveLength(5);
  });

  it('fails with a clear error on truncation, bad checksums and non-gzip input', () => {
    const good = Buffer.concat([member('a.txt', 'x'.repeat(2000)), end]);
    expect(() => readTar(good.subarray(0, 900))).toThrow(TarError);
    expect(() => readTar(good.subarray(0, 900))).toThrow(/past the end/);
    const bad = Buffer.from(good);
    bad[0] = 0x41;
    expect(() => readTar(bad)).toThrow(/checksum/);
    expect(() => readTarGz(Buffer.from('not gzip at all'))).toThrow(/not a readable gzip/);
    expect(readTarGz(gzipSync(good)).files.get('a.txt')?.length).toBe(2000);
  });

  it('normalises member paths', () => {
    expect(safeMemberPath('./a//b/./c')).toBe('a/b/c');
    expect(safeMemberPath('a/../b')).toBeNull();
    expect(safeMemberPath('/abs')).toBeNull();
    expect(safeMemberPath('a\\..\\b')).toBeNull();
  });
});
