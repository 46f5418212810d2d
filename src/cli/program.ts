// The skeleton of the `simplevm` command, on commander: commands are declared as data (their
// words, arguments, options and a summary), each gets its own options and `--help`, and anything
// a command does not take is refused with exit status 2 and one line naming it. Every failure of
// every command ends here as one line on stderr. This file and the client commands import nothing
// under src/server: the commands that talk HTTP start without loading the server.
import { Command, type CommanderError, Option } from 'commander';
import { maskKeys } from '../shared/key-mask.js';
import { oneLine } from '../shared/text.js';
import { type Env, type Stream, clean, colorWanted, paint } from './client-output.js';

export interface Io {
  env: Env;
  stdout: Stream;
  stderr: Stream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
}

export const processIo = (): Io => ({ env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });

/** Exit status 2 (docs/scripting.md): a wrong command, argument or option. */
const USAGE_EXIT = 2;

/** A failure with its exit status; `pointToHelp` adds where the command's help is. */
export class CliError extends Error {
  constructor(readonly exitCode: number, message: string, readonly pointToHelp = false) {
    super(message);
  }
}

/** A mistake in the command line itself. */
export const usage = (message: string) => new CliError(USAGE_EXIT, message, true);

/** `--help` was answered: not a failure. */
class HelpShown extends Error {
  constructor(readonly exitCode: number) {
    super('help');
  }
}

/** An option: its commander flags (`--page <N>`, `--wait`, `--no-superuser`) and what it does. */
export type OptionTable = Record<string, { flags: string; description: string }>;

export interface Call {
  /** The command's arguments, as many as it declares (commander counts them). */
  args: string[];
  /** Its options by camel-cased name (`--page-size` is `pageSize`); absent when not given. */
  opts: Record<string, string | boolean | undefined>;
  io: Io;
  /** Keeps a secret (the API key in use) out of the error line, should a message quote it. */
  hide(secret: string | undefined): void;
}

export interface CommandSpec {
  /** The command's words: `vm create`. */
  path: string;
  /** Its arguments in order, as the usage line names them: `['VOLUME', 'VM']`. */
  args: string[];
  /**
   * Its options, names from the section's option table, in the order the usage line shows them;
   * `a|b` are alternatives (given together they are refused).
   */
  options: string[];
  /** Options the command cannot do without; it checks them itself, with a message that helps. */
  required?: string[];
  summary: string;
  run(call: Call): Promise<void>;
}

export interface Section {
  /** The heading of its part of `simplevm --help`. */
  title: string;
  options: OptionTable;
  commands: CommandSpec[];
  /** Options every command of the section takes, described once in `footer`, not on each usage line. */
  common?: string[];
  footer?: string;
}

/** `--page <N>` → `--page N`. */
const shown = (flags: string) => flags.replace(/[<>]/g, '');

/** The usage line of a command: arguments, then required options, then optional ones in brackets. */
function usageLine(spec: CommandSpec, section: Section): string {
  const parts = [...spec.args];
  const required = spec.required ?? [];
  for (const name of required) parts.push(shown(section.options[name].flags));
  for (const entry of spec.options) {
    if (required.includes(entry) || section.common?.includes(entry)) continue;
    parts.push(`[${entry.split('|').map((name) => shown(section.options[name].flags)).join(' | ')}]`);
  }
  return parts.join(' ');
}

/** `simplevm --help`: every command's usage line, section by section. */
function overview(sections: Section[]): string {
  const out = ['usage: simplevm COMMAND [ARGUMENTS] [OPTIONS]', ''];
  for (const section of sections) {
    out.push(`${section.title}:`);
    for (const spec of section.commands) out.push(`  simplevm ${spec.path} ${usageLine(spec, section)}`.trimEnd());
    if (section.footer) out.push(section.footer);
    out.push('');
  }
  out.push('"simplevm COMMAND --help" describes a command and each of its options.');
  return `${out.join('\n')}\n`;
}

const pathOf = (cmd: Command): string => {
  const words: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) words.unshift(c.name());
  return words.join(' ');
};

/** Commander's refusals, said the way the rest of simplevm says things. */
function translate(err: CommanderError, cmd: Command, spec: CommandSpec | undefined): Error {
  const where = pathOf(cmd);
  const quoted = /'([^']+)'/.exec(err.message)?.[1];
  switch (err.code) {
    case 'commander.helpDisplayed':
    case 'commander.help':
    case 'commander.version':
      return new HelpShown(err.exitCode);
    case 'commander.unknownOption': {
      const flag = clean(quoted ?? err.message);
      if (!spec) return usage(`${flag} is not an option here: options go after the whole command, as in "simplevm vm list --json"`);
      const suggestion = /\(Did you mean (\S+)\?\)/.exec(err.message)?.[1];
      return usage(`${where} does not take ${flag}${suggestion ? ` (did you mean ${suggestion}?)` : ''}`);
    }
    case 'commander.missingArgument':
    case 'commander.excessArguments': {
      if (spec && spec.args.length > 0) return usage(`${where} takes ${spec.args.join(' ')}`);
      return usage(`${where} takes no argument, got "${clean(cmd.args[0])}"`);
    }
    case 'commander.optionMissingArgument':
      return usage(`${where}: ${clean(/option '(\S+)/.exec(err.message)?.[1] ?? 'an option')} needs a value`);
    default:
      return usage(oneLine(err.message.replace(/^error: /, '')));
  }
}

function groupOf(parent: Command, word: string, groups: Set<Command>): Command {
  const found = parent.commands.find((c) => c.name() === word);
  if (found) return found;
  const group = parent.command(word);
  groups.add(group);
  return group;
}

/**
 * Builds the program from the sections and runs `argv` (the words after `simplevm`). Answers the
 * exit status; output and failures go to `io`.
 */
export async function runProgram(sections: Section[], argv: string[], io: Io): Promise<number> {
  const secrets: string[] = [];
  // The command being parsed or run: a failure points to its help.
  let current: Command | null = null;
  const program = new Command('simplevm');
  const groups = new Set<Command>([program]);
  const specs = new Map<Command, CommandSpec>();

  for (const section of sections) {
    for (const spec of section.commands) {
      const words = spec.path.split(' ');
      let parent = program;
      for (const word of words.slice(0, -1)) parent = groupOf(parent, word, groups);
      const cmd = parent.command(words.at(-1) as string);
      specs.set(cmd, spec);
      cmd.description(spec.summary).usage(usageLine(spec, section));
      for (const arg of spec.args) cmd.argument(`<${arg}>`);
      // Alternatives (`--superuser | --no-superuser`) are one setting: both given is a mistake,
      // where commander would let the last one win.
      const alternatives: Array<{ names: string[]; seen: Set<string> }> = [];
      for (const entry of spec.options) {
        const names = entry.split('|');
        for (const name of names) cmd.addOption(new Option(section.options[name].flags, section.options[name].description));
        if (names.length > 1) {
          const group = { names, seen: new Set<string>() };
          for (const name of names) cmd.on(`option:${name}`, () => group.seen.add(name));
          alternatives.push(group);
        }
      }
      cmd.action(async () => {
        for (const { names, seen } of alternatives) {
          if (seen.size > 1) throw usage(`give ${names.map((n) => `--${n}`).join(' or ')}, not both`);
        }
        await spec.run({
          args: cmd.processedArgs as string[],
          opts: cmd.opts(),
          io,
          hide: (secret) => {
            if (secret && secret.length >= 8) secrets.push(secret);
          },
        });
      });
    }
  }

  // A group (`simplevm vm`, `simplevm` itself) run without a known command word.
  for (const group of groups) {
    const where = pathOf(group);
    const subs = group.commands.map((c) => c.name());
    group
      .usage('COMMAND [ARGUMENTS] [OPTIONS]')
      .allowExcessArguments(true)
      .action(() => {
        const [word] = group.args;
        if (word === undefined) throw usage(where ? `${where} needs one of: ${subs.join(', ')}` : 'a command is needed');
        throw usage(`unknown command: ${clean([where, word].filter(Boolean).join(' '))}`);
      });
  }

  const all = (cmd: Command): Command[] => [cmd, ...cmd.commands.flatMap(all)];
  for (const cmd of all(program)) {
    cmd
      .configureOutput({
        writeOut: (s) => io.stdout.write(s),
        writeErr: (s) => io.stderr.write(s),
        // Commander's own error lines are replaced by ours (translate).
        outputError: () => {},
      })
      .exitOverride((err) => {
        current = cmd;
        throw translate(err, cmd, specs.get(cmd));
      });
  }
  // The program's hooks run for the actions of all its commands.
  program.hook('preAction', (_, actionCommand) => {
    current = actionCommand;
  });
  program.configureHelp({ formatHelp: () => overview(sections) });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof HelpShown) return err.exitCode;
    const known = err instanceof CliError;
    const where = current ? pathOf(current) : '';
    const hint = known && err.pointToHelp ? `; see "simplevm ${where ? `${where} ` : ''}--help"` : '';
    let text = maskKeys(`${known ? err.message : `unexpected failure: ${err instanceof Error ? err.message : String(err)}`}${hint}`);
    for (const secret of [...secrets, io.env.SIMPLEVM_API_KEY]) {
      if (secret && secret.length >= 8) text = text.split(secret).join('(the API key)');
    }
    io.stderr.write(`${paint(colorWanted(io.stderr, io.env)).red('simplevm:')} ${oneLine(text)}\n`);
    return known ? err.exitCode : 1;
  }
}
