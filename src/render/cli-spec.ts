/**
 * The command line as data: built from the commander program (src/cli/describe.ts, describeProgram), rendered as
 * shell completion scripts and the man page, so those can never drift from what the parser accepts.
 */

export interface OptSpec {
  short?: string;
  long: string;
  /** the value placeholder (`<format>`), when the option takes one */
  value?: string;
  /** the values it accepts, when they are a closed list */
  choices?: string[];
  /** what to complete for the value when there are no choices */
  complete?: 'file' | 'dir';
  description: string;
}

export interface ArgSpec {
  name: string;
  required: boolean;
  variadic: boolean;
  description: string;
  choices?: string[];
}

export interface Example {
  /** the command line, starting with the program name */
  command: string;
  comment?: string;
}

export interface CmdSpec {
  name: string;
  /** `['svc', 'lookup']` */
  path: string[];
  description: string;
  args: ArgSpec[];
  options: OptSpec[];
  subcommands: CmdSpec[];
  examples: Example[];
  /** more text for the man page (sources, exit codes) */
  notes?: string;
}

export interface CliSpec {
  name: string;
  version: string;
  description: string;
  options: OptSpec[];
  commands: CmdSpec[];
}

/** Every command, depth first, with its path. */
export function allCommands(spec: CliSpec): CmdSpec[] {
  const out: CmdSpec[] = [];
  const walk = (cs: CmdSpec[]) => {
    for (const c of cs) {
      out.push(c);
      walk(c.subcommands);
    }
  };
  walk(spec.commands);
  return out;
}
