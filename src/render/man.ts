import { allCommands, type CliSpec, type CmdSpec, type OptSpec } from './cli-spec.js';

/** `netpath man`: the manual page in roff (man(7) macros), generated from the same spec as --help. */

/** Text as roff: backslashes escaped, dashes as minus signs, no line starting with a control character. */
function esc(s: string): string {
  return (
    s
      .replace(/\\/g, '\\e')
      .replace(/-/g, '\\-')
      // non-ASCII as groff Unicode escapes: man(1) does not always run the input through preconv
      .replace(/[^\x00-\x7f]/gu, (ch) => `\\[u${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`)
      .split('\n')
      .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
      .join('\n')
  );
}

const sentence = (s: string): string => (/[.!?)]$/.test(s) ? s : `${s}.`);

function optionItem(o: OptSpec): string[] {
  const names = [o.short, o.long]
    .filter((x): x is string => x !== undefined)
    .map((n) => `\\fB${esc(n)}\\fR`)
    .join(', ');
  const value = o.value ? ` \\fI${esc(o.value.replace(/[<>]/g, ''))}\\fR` : '';
  const choices = o.choices ? ` One of: ${esc(o.choices.join(', '))}.` : '';
  return ['.TP', `${names}${value}`, `${sentence(esc(o.description))}${choices}`];
}

function synopsis(name: string, c: CmdSpec): string {
  const args = c.args
    .map((a) => (a.required ? `\\fI${esc(a.name)}\\fR` : `[\\fI${esc(a.name)}\\fR]`) + (a.variadic ? '...' : ''))
    .join(' ');
  return `\\fB${esc(name)} ${esc(c.path.join(' '))}\\fR${c.options.length ? ' [\\fIoptions\\fR]' : ''}${args ? ` ${args}` : ''}`;
}

export function renderMan(spec: CliSpec): string {
  const cmds = allCommands(spec).filter((c) => c.subcommands.length === 0);
  const out: string[] = [
    `.TH ${spec.name.toUpperCase()} 1 "" "${esc(spec.name)} ${esc(spec.version)}" "User Commands"`,
    '.SH NAME',
    `${esc(spec.name)} \\- ${esc(spec.description.replace(/\.$/, ''))}`,
    '.SH SYNOPSIS',
    ...cmds.flatMap((c) => [synopsis(spec.name, c), '.br']),
    '.SH DESCRIPTION',
    esc(
      `${spec.name} reconstructs the path of a packet through a Linux node running Cilium in native-routing mode, from read-only probes of the node (ip, tc, bpftool, nft, iptables-save, wg, sysctl, cilium-dbg) or from a snapshot of their output, without sending traffic. Every hop cites the probe output that proves it; what the state does not decide is reported as unknown, with the reason.`,
    ),
    '.SH OPTIONS',
    'These options apply to every command.',
    ...spec.options.flatMap(optionItem),
    '.TP',
    '\\fB\\-V\\fR, \\fB\\-\\-version\\fR',
    'Print the version and the git commit it was built from.',
    '.TP',
    '\\fB\\-h\\fR, \\fB\\-\\-help\\fR',
    'Print the help of a command, with examples.',
    '.SH COMMANDS',
  ];
  for (const c of cmds) {
    out.push(
      `.SS "${esc(`${spec.name} ${c.path.join(' ')}`)}"`,
      esc(c.description.replace(/^./, (x) => x.toUpperCase())) + (c.description.endsWith('.') ? '' : '.'),
    );
    for (const a of c.args)
      out.push(
        '.TP',
        `\\fI${esc(a.name)}\\fR`,
        `${sentence(esc(a.description))}${a.choices ? ` One of: ${esc(a.choices.join(', '))}.` : ''}`,
      );
    for (const o of c.options) out.push(...optionItem(o));
    if (c.notes) out.push('.PP', esc(c.notes));
    if (c.examples.length) {
      out.push('.PP', 'Examples:', '.RS', '.nf');
      for (const e of c.examples) out.push(esc(e.command + (e.comment ? `    # ${e.comment}` : '')));
      out.push('.fi', '.RE');
    }
  }
  out.push(
    '.SH "EXIT STATUS"',
    '.TP',
    '0',
    'Answered; for trace, the packet is delivered or forwarded; for svc lookup, a frontend matches.',
    '.TP',
    '1',
    'Answered, and the answer is bad: dropped, no route, nothing matches.',
    '.TP',
    '2',
    'Usage error: a bad flag, an argument that is not an address or a name.',
    '.TP',
    '3',
    'Could not answer: a required source (probe, snapshot file, kubectl) is missing, unreadable or unparseable.',
    '.TP',
    '70',
    'A bug in netpath.',
    '.SH ENVIRONMENT',
    '.TP',
    '\\fBNO_COLOR\\fR',
    'When set to a non-empty value, output is never coloured (as with \\fB\\-\\-no\\-color\\fR). Colour is only used on a terminal.',
    '.TP',
    '\\fBKUBECONFIG\\fR',
    'Read by kubectl, which netpath runs (read-only) to turn pod and Service names into addresses; \\fB\\-\\-context\\fR and \\fB\\-\\-namespace\\fR are passed to it.',
    '.SH SAFETY',
    esc(
      `${spec.name} only reads. It runs no shell; every command it may run is a fixed argument vector from its allow-list (${spec.name} commands prints it), and a command that is not on the list is refused before anything is spawned.`,
    ),
    '.SH "SEE ALSO"',
    '\\fBkubectl\\fR(1), \\fBip\\fR(8), \\fBtc\\fR(8), \\fBbpftool\\fR(8), \\fBnft\\fR(8), \\fBiptables\\-save\\fR(8), \\fBwg\\fR(8)',
  );
  return out.join('\n') + '\n';
}
