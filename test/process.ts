// The real `simplevm` command as a child process: admin commands run to completion, and `serve`
// on a free port with its log captured, for tests of the command line and of restarts.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'simplevm.js');

/** A temporary directory, removed by the returned function. */
export function tempDir(prefix = 'simplevm-test-'): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The child's environment: this machine's basics and nothing of the test runner's own settings
 * (no SIMPLEVM_*, DATABASE_URL or NODE_OPTIONS leak in), plus what the test asks for.
 */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'SystemRoot']) {
    if (process.env[name] !== undefined) base[name] = process.env[name];
  }
  return { ...base, NO_COLOR: '1', ...env };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `simplevm ARGS…` to completion; `input` is written to its stdin (which is then closed). */
export function runCli(args: string[], opts: { env: Record<string, string>; input?: string; timeoutMs?: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`simplevm ${args.join(' ')} did not finish in time; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 45_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // the command may exit before reading all of it
    child.stdin.end(opts.input ?? '');
  });
}

/** The non-empty lines of a stream's text. */
export const lines = (text: string): string[] => text.split('\n').filter((l) => l.length > 0);

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  /** `http://127.0.0.1:PORT` */
  url: string;
  pid: number;
  /** Everything the process wrote on stdout (its JSON log lines) so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited. */
  exited: Promise<Exit>;
  /** Sends a signal and waits for the exit (SIGKILL after `timeoutMs` as a last resort). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts `simplevm serve` on a free port (SIMPLEVM_PORT=0; the port is read from its log) and
 * resolves once `GET /healthz` answers 200.
 */
export async function startServer(env: Record<string, string>, opts: { timeoutMs?: number } = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd: ROOT,
    env: childEnv({ SIMPLEVM_HOST: '127.0.0.1', SIMPLEVM_PORT: '0', SIMPLEVM_LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<Exit> => {
    if (!hasExited) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  const until = Date.now() + (opts.timeoutMs ?? 45_000);
  let url: string | null = null;
  try {
    while (Date.now() < until) {
      if (hasExited) throw new Error(`simplevm serve exited early: ${JSON.stringify(await exited)}; stderr: ${stderr}; stdout: ${stdout}`);
      url ??= /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(stdout)?.[1] ?? null;
      if (url) {
        const ok = await fetch(`${url}/healthz`).then((r) => r.status === 200, () => false);
        if (ok) return { url, pid: child.pid!, stdout: () => stdout, stderr: () => stderr, exited, stop };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`simplevm serve was not ready in time; stderr: ${stderr}; stdout: ${stdout}`);
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
}

export interface Reply {
  status: number;
  data: any;
}

/** A user of the real HTTP API: logs in, keeps the session cookie and sends the CSRF token. */
export class ApiClient {
  cookie: string | null = null;
  csrf: string | null = null;

  constructor(public baseUrl: string) {}

  async login(username: string, password: string): Promise<Reply> {
    const res = await fetch(`${this.baseUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const reply = { status: res.status, data: await res.json().catch(() => null) };
    if (res.status === 200) {
      const session = res.headers.getSetCookie().find((c) => c.startsWith('simplevm_session='));
      this.cookie = session ? session.split(';')[0] : null;
      this.csrf = reply.data.csrf_token;
    }
    return reply;
  }

  async request(method: string, url: string, body?: unknown): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (this.cookie) headers.cookie = this.cookie;
    if (this.csrf && method !== 'GET') headers['x-csrf-token'] = this.csrf;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.baseUrl}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    return { status: res.status, data };
  }

  get = (url: string) => this.request('GET', url);
  post = (url: string, body?: unknown) => this.request('POST', url, body ?? {});
  delete = (url: string) => this.request('DELETE', url);

  /** Polls a GET until `done` holds for its 200 body. */
  async waitFor(url: string, done: (data: any) => boolean, timeoutMs = 15_000): Promise<any> {
    const until = Date.now() + timeoutMs;
    let last: Reply | null = null;
    while (Date.now() < until) {
      last = await this.get(url);
      if (last.status === 200 && done(last.data)) return last.data;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting on ${url}; last: ${JSON.stringify(last)}`);
  }
}

/**
 * A fresh, empty database for a child process: a SQLite file in `dir`, or a new PostgreSQL
 * database when TEST_DATABASE_URL is set (a child cannot share an in-memory database).
 */
export async function freshProcessDatabase(dir: string, name: string): Promise<{ url: string; drop: () => Promise<void> }> {
  if (process.env.TEST_DATABASE_URL) {
    const { freshDatabaseUrl } = await import('./helpers.js');
    return freshDatabaseUrl();
  }
  return { url: path.join(dir, `${name}.sqlite`), drop: async () => {} };
}
