import type { Command, Option } from 'commander';
import { BUILD_INFO } from '../build-info.js';
import type { CliSpec, CmdSpec, OptSpec } from '../render/cli-spec.js';
import { EXAMPLES, NOTES } from './help.js';

// Value placeholders that name paths get file (or directory) completion.
const pathValue = (value: string): OptSpec['complete'] | undefined =>
  /file|\.tar\.gz/.test(value) ? 'file' : /dir/.test(value) ? 'dir' : undefined;

function describeOption(o: Option): OptSpec {
  const value = /<[^>]+>|\[[^\]]+\]/.exec(o.flags)?.[0];
  const complete = value ? pathValue(value) : undefined;
  return {
    ...(o.short ? { short: o.short } : {}),
    long: o.long ?? o.flags,
    ...(value ? { value } : {}),
    ...(o.argChoices ? { choices: [...o.argChoices] } : {}),
    ...(complete ? { complete } : {}),
    description: o.description,
  };
}

/** The commander program as data, for completion scripts and the man page. */
export function describeProgram(program: Command): CliSpec {
  const cmd = (c: Command, parent: string[]): CmdSpec => {
    const path = [...parent, c.name()];
    const key = path.join(' ');
    return {
      name: c.name(),
      path,
      description: c.description(),
      args: c.registeredArguments.map((a) => ({
        name: a.name(),
        required: a.required,
        variadic: a.variadic,
        description: a.description,
        ...(a.argChoices ? { choices: [...a.argChoices] } : {}),
      })),
      options: c.options.map(describeOption),
      subcommands: c.commands.map((s) => cmd(s, path)),
      examples: (EXAMPLES[key] ?? []).map(([command, comment]) => ({ command, ...(comment ? { comment } : {}) })),
      ...(NOTES[key] ? { notes: NOTES[key] } : {}),
    };
  };
  return {
    name: 'netpath',
    version: `${BUILD_INFO.version} (commit ${BUILD_INFO.commit})`,
    description: program.description(),
    options: program.options.filter((o) => o.long !== '--version').map(describeOption),
    commands: program.commands.map((c) => cmd(c, [])),
  };
}
