// What the client commands print: tables and detail views for people, colour only where it is
// welcome (a terminal, no NO_COLOR), a spinner on a terminal and plain progress lines elsewhere;
// and reading a line from stdin.
import { createInterface } from 'node:readline';

export interface Stream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export type Env = Record<string, string | undefined>;

/** https://no-color.org: a non-empty NO_COLOR turns colour off; FORCE_COLOR turns it on off a terminal. */
export function colorWanted(stream: Stream, env: Env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export interface Paint {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  /** Colours a status by what it means: settled and well, in transition, failed, or stopped. */
  status(s: string, busy?: boolean): string;
}

const GOOD = new Set(['ACTIVE', 'available', 'in-use', 'active', 'success']);
const BAD = new Set(['ERROR', 'error', 'failure']);
const RESTING = new Set(['SHUTOFF', 'DELETED', 'deleted']);

export function paint(enabled: boolean): Paint {
  const sgr = (open: number, close: number) => (s: string) => (enabled && s ? `\u001b[${open}m${s}\u001b[${close}m` : s);
  const p = { bold: sgr(1, 22), dim: sgr(2, 22), red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39) };
  return {
    ...p,
    status: (s, busy = false) => (BAD.has(s) ? p.red(s) : busy ? p.yellow(s) : GOOD.has(s) ? p.green(s) : RESTING.has(s) ? p.dim(s) : p.yellow(s)),
  };
}

/** Text from the server, made safe for a terminal: no control characters (escape sequences). */
export function clean(value: unknown): string {
  if (value === null || value === undefined) return '-';
  const text = Array.isArray(value) ? value.map(String).join(', ') : String(value);
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?') || '-';
}

const ANSI = /\u001b\[[0-9;]*m/g;
const width = (s: string) => [...s.replace(ANSI, '')].length;

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
  /** Colour for the cleaned cell text. */
  color?: (text: string, row: T) => string;
}

/** Aligned columns with an upper-case header, two spaces apart; the last column is not padded. */
export function table<T>(rows: T[], columns: Column<T>[], p: Paint): string {
  const cells = rows.map((row) => columns.map((c) => {
    const text = clean(c.value(row));
    return c.color ? c.color(text, row) : text;
  }));
  const headers = columns.map((c) => c.header.toUpperCase());
  const widths = headers.map((h, i) => Math.max(width(h), ...cells.map((r) => width(r[i]))));
  const line = (row: string[], style: (s: string) => string = (s) => s) =>
    row.map((cell, i) => (i === row.length - 1 ? style(cell) : style(cell) + ' '.repeat(widths[i] - width(cell)))).join('  ').trimEnd();
  return [line(headers, p.bold), ...cells.map((r) => line(r))].join('\n') + '\n';
}

/** A detail view: one `label  value` line per field. */
export function details(fields: Array<[string, unknown, ((text: string) => string)?]>, p: Paint): string {
  const w = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, value, color]) => {
    const text = clean(value);
    return `${p.bold(label.padEnd(w))}  ${color ? color(text) : text}`;
  }).join('\n') + '\n';
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

interface Progress {
  /** The current state, e.g. `BUILD (spawning)`; plain output prints a line only when it changes. */
  update(state: string): void;
  stop(): void;
}

/**
 * Progress of a wait on stderr: a spinner that rewrites one line on a terminal, or a plain line per
 * change of state otherwise (so logs and CI output stay readable); nothing when `quiet`.
 */
export function progress(stderr: Stream, label: string, opts: { quiet: boolean; p: Paint }): Progress {
  if (opts.quiet) return { update() {}, stop() {} };
  const started = Date.now();
  let state = '';
  if (stderr.isTTY) {
    let frame = 0;
    const draw = () => {
      const seconds = Math.floor((Date.now() - started) / 1000);
      stderr.write(`\r\u001b[2K${opts.p.yellow(FRAMES[frame++ % FRAMES.length])} ${label}: ${state} ${opts.p.dim(`${seconds}s`)}`);
    };
    const timer = setInterval(draw, 100);
    return {
      update(s) {
        state = clean(s);
        draw();
      },
      stop() {
        clearInterval(timer);
        stderr.write('\r\u001b[2K');
      },
    };
  }
  return {
    update(s) {
      const next = clean(s);
      if (next === state) return;
      state = next;
      stderr.write(`${label}: ${state}\n`);
    },
    stop() {},
  };
}

/** The first line of an input (stdin), without its line ending; '' when it ends first. */
export async function firstLine(input: NodeJS.ReadableStream): Promise<string> {
  const rl = createInterface({ input });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return '';
}
