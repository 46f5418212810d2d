// PostgreSQL for the tests that run real server processes on it: the server to use (TEST_DATABASE_URL,
// or this machine's default one), a fresh database per test file, direct reads of its tables, and a
// TCP proxy in front of it that a test can cut and restore to play a database outage.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';

/** The PostgreSQL server these tests use, whether or not the suite as a whole runs on PostgreSQL. */
export const PG_BASE = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** Whether `url` accepts a connection and answers a query within `timeoutMs`. */
export async function pgReachable(url = PG_BASE, timeoutMs = 3000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export interface FreshDatabase {
  url: string;
  /** A small pool on the database, for reading and preparing its tables directly. */
  pool: pg.Pool;
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Closes the pool and drops the database (with any connection still open to it). */
  drop(): Promise<void>;
}

/** A new, empty database on the server, for one test file. */
export async function freshPgDatabase(prefix = 'svm_test', base = PG_BASE): Promise<FreshDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  pool.on('error', () => {});
  return {
    url: url.toString(),
    pool,
    query: async <T,>(text: string, params: unknown[] = []) => (await pool.query(text, params)).rows as T[],
    drop: async () => {
      await pool.end().catch(() => {});
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** How a cut proxy behaves towards new connections. */
export type CutMode =
  /** Nothing listens on the port: connecting fails at once (ECONNREFUSED). */
  | 'refuse'
  /** Connections are accepted and reset straight away (ECONNRESET / terminated unexpectedly). */
  | 'reset'
  /** Connections are accepted and never answered (the client's connect timeout must fire). */
  | 'blackhole';

/**
 * A TCP proxy from a local port to the database server. `cut()` destroys every connection through
 * it and keeps new ones from reaching the database; `restore()` lets them through again, on the
 * same port; `hold()` stalls the traffic without breaking it. The database server itself is never
 * touched (other tests use it).
 */
export class TcpProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private mode: CutMode | null = null;
  private heldChunks: Array<() => void> | null = null;
  /** Connections made through the proxy to the database so far. */
  connections = 0;

  private constructor(private readonly target: { host: string; port: number }, public port = 0) {}

  /** Starts a proxy to the server of `url` on a free port. */
  static async start(url: string): Promise<TcpProxy> {
    const u = new URL(url);
    const proxy = new TcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    await proxy.listen();
    return proxy;
  }

  /** `url` with its host and port replaced by the proxy's. */
  urlFor(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  private onConnection(client: net.Socket): void {
    this.track(client);
    if (this.mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (this.mode === 'blackhole') return; // held open, never answered, until restore() or close()
    this.connections += 1;
    const upstream = net.connect(this.target);
    this.track(upstream);
    client.on('data', (chunk: Buffer) => {
      if (this.heldChunks) this.heldChunks.push(() => upstream.write(chunk));
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  /**
   * From now on, what the server process sends to the database waits in the proxy (its queries
   * hang, as behind a stalled network) until `release()`; nothing is lost.
   */
  hold(): void {
    this.heldChunks ??= [];
  }

  /** Sends on everything held, in order, and stops holding. */
  release(): void {
    const held = this.heldChunks ?? [];
    this.heldChunks = null;
    for (const send of held) send();
  }

  /** How many chunks are waiting because of `hold()`. */
  get held(): number {
    return this.heldChunks?.length ?? 0;
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => this.onConnection(socket));
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        this.port = (server.address() as net.AddressInfo).port;
        this.server = server;
        resolve();
      });
    });
  }

  private destroyAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  private async closeListener(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The outage: every connection dies now, and new ones fail as `mode` says. */
  async cut(mode: CutMode = 'refuse'): Promise<void> {
    this.mode = mode;
    if (mode === 'refuse') {
      const closing = this.closeListener();
      this.destroyAll();
      await closing;
    } else {
      this.destroyAll();
    }
  }

  /** The database is back: new connections reach it again (held blackhole connections are dropped). */
  async restore(): Promise<void> {
    const wasRefusing = this.mode === 'refuse';
    this.mode = null;
    this.destroyAll();
    if (wasRefusing) await this.listen();
  }

  async close(): Promise<void> {
    this.mode = 'reset';
    const closing = this.closeListener();
    this.destroyAll();
    await closing;
  }
}
