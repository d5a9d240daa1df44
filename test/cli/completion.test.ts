import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { main, cliSpec } from '../../src/cli.js';
import { allCommands } from '../../src/render/cli-spec.js';
import { formatsFor } from '../../src/render/output.js';

async function cli(argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s), isTTY: false, env: {} });
  return { code, out, err };
}

const has = (bin: string) => spawnSync(bin, ['--version'], { encoding: 'utf8' }).status === 0;
const script: Record<string, string> = {};
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'np-compl-'));
  for (const sh of ['bash', 'zsh', 'fish']) {
    const r = await cli(['completion', sh]);
    expect(r.code).toBe(0);
    script[sh] = r.out;
    writeFileSync(join(dir, `netpath.${sh}`), r.out);
  }
  mkdirSync(join(dir, 'snaps'));
  writeFileSync(join(dir, 'snaps', 'node1.tar.gz'), '');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('netpath completion', () => {
  it('refuses an unknown shell as a usage error', async () => {
    expect((await cli(['completion', 'tcsh'])).code).toBe(2);
  });

  it('names every command and every option of the program, for every shell', async () => {
    const s = cliSpec();
    for (const c of allCommands(s)) {
      for (const sh of ['bash', 'zsh', 'fish']) {
        expect(script[sh], `${sh}: ${c.path.join(' ')}`).toContain(c.name);
        for (const o of c.options)
          expect(script[sh], `${sh}: ${c.path.join(' ')} ${o.long}`).toContain(
            sh === 'fish' ? `-l ${o.long.slice(2)}` : o.long,
          );
      }
    }
  });

  it('bash parses it (bash -n)', () => {
    const r = spawnSync('bash', ['-n', join(dir, 'netpath.bash')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  // what bash offers for a command line: COMP_WORDS as bash splits them, the completion function called
  const complete = (line: string, prog = 'netpath'): string[] => {
    const words = line.split(' ');
    const cmd = `source ${join(dir, 'netpath.bash')}; COMP_WORDS=(${[prog, ...words].map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length}; _netpath; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8', cwd: dir });
    expect(r.stderr).toBe('');
    return r.stdout.split('\n').filter(Boolean);
  };

  it('bash completes commands, subcommands, options, -o formats, --proto, shells and paths', () => {
    expect(complete('')).toEqual([
      'trace',
      'svc',
      'diff',
      'node',
      'check',
      'snapshot',
      'commands',
      'completion',
      'man',
      'help',
    ]);
    expect(complete('tr')).toEqual(['trace']);
    expect(complete('no')).toEqual(['node']);
    expect(complete('node -o ')).toEqual(formatsFor('node'));
    expect(complete('node --no')).toEqual(['--node', '--no-color']);
    expect(complete('svc ')).toEqual(['lookup']);
    expect(complete('trace -o ')).toEqual(formatsFor('trace', 'journey'));
    expect(complete('svc lookup --output y')).toEqual(['yaml']);
    expect(complete('trace --proto u')).toEqual(['udp']);
    expect(complete('trace 10.0.0.1 10.0.0.2 --po')).toEqual(['--port']);
    expect(complete('-q trace --ver')).toEqual(['--verbose']);
    expect(complete('completion ')).toEqual(['bash', 'zsh', 'fish']);
    expect(complete('trace -s snaps/n')).toEqual(['snaps/node1.tar.gz']);
    expect(complete('trace --cluster sn')).toEqual(['snaps']);
    // a value after a value-taking option is not mistaken for a command
    expect(complete('trace -s trace --j')).toEqual(['--json']);
    expect(complete('tr', 'kubectl-netpath')).toEqual(['trace']);
  });

  it.skipIf(!has('zsh'))(
    `zsh parses it and registers it with compinit${has('zsh') ? '' : ' (skipped: zsh not installed)'}`,
    () => {
      expect(spawnSync('zsh', ['-n', join(dir, 'netpath.zsh')], { encoding: 'utf8' }).status).toBe(0);
      const r = spawnSync(
        'zsh',
        [
          '-f',
          '-c',
          `autoload -U compinit && compinit -u -D && source ${join(dir, 'netpath.zsh')} && print -r -- $_comps[netpath] $_comps[kubectl-netpath]`,
        ],
        { encoding: 'utf8', env: { ...process.env, HOME: dir } },
      );
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('_netpath _netpath');
    },
  );

  it.skipIf(!has('fish'))(
    `fish parses it and completes from it${has('fish') ? '' : ' (skipped: fish not installed)'}`,
    () => {
      expect(spawnSync('fish', ['--no-execute', join(dir, 'netpath.fish')], { encoding: 'utf8' }).status).toBe(0);
      const fc = (line: string) => {
        const r = spawnSync(
          'fish',
          ['--no-config', '-c', `source ${join(dir, 'netpath.fish')}; complete -C ${JSON.stringify(line)}`],
          { encoding: 'utf8', env: { ...process.env, HOME: dir } },
        );
        expect(r.stderr).toBe('');
        return r.stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split('\t')[0]);
      };
      expect(fc('netpath tr')).toEqual(['trace']);
      expect(fc('netpath svc ')).toEqual(['lookup']);
      // fish sorts what it offers
      expect(fc('netpath trace -o ')).toEqual([...formatsFor('trace', 'journey')].sort());
      expect(fc('netpath trace --proto ')).toEqual(['icmp', 'sctp', 'tcp', 'udp']);
      expect(fc('kubectl-netpath completion ')).toEqual(['bash', 'fish', 'zsh']);
    },
  );
});
