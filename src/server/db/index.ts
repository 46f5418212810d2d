// Opening the database: the Kysely instance on SQLite (better-sqlite3, the embedded default) or
// PostgreSQL (pg), with each dialect's statement machinery (sqlite/, postgres/) and the read cache.
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { isPostgresUrl } from '../config.js';
import { KeyFeed, type KeyFeedTiming, settleKeyChanges } from './postgres/key-feed.js';
import { preparedOn } from './postgres/named-statements.js';
import { snapshotVersion } from './postgres/snapshot-version.js';
import { memoizeReads } from './read-cache.js';
import { ImmediateSqliteDialect } from './sqlite/dialect.js';
import { withStatementCache } from './sqlite/statements.js';
import type { Database } from './types.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /**
   * The server calls this as each request arrives, before anything reads the database for it: the
   * read cache then looks once for other processes' commits (SQLite; nothing to do on PostgreSQL).
   */
  requestArrived(): void;
  /**
   * PostgreSQL: this instance's feed of key changes once startKeyFeed() ran (a serving portal with
   * the read cache on), which lets key checks answer from memory; null otherwise.
   */
  keyFeed: KeyFeed | null;
  /** PostgreSQL: listens for key changes and keeps a heartbeat (db/postgres/key-feed.ts); nothing on SQLite. */
  startKeyFeed(timing?: Partial<KeyFeedTiming>, warn?: (msg: string, err?: unknown) => void): Promise<void>;
  /**
   * After a committed change to keys, users or memberships: resolves once every instance that
   * answers key checks from memory has dropped what the change touched (PostgreSQL); at once on
   * SQLite, whose read cache sees every commit by itself. Returns the instances that did not answer in time.
   */
  settleKeyChanges(): Promise<string[]>;
  destroy(): Promise<void>;
}

const nothing = () => {};
const settled = () => Promise.resolve([]);

// PostgreSQL returns bigint counts as strings; ours always fit in a JS number.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

/**
 * `readCache` (default on): prepared queries marked `memo` answer from memory while the database has
 * had no write since they last ran (see memoizeReads: SQLite's version is read from its files,
 * PostgreSQL's is its current snapshot, one small round trip); on PostgreSQL, key checks also answer
 * from memory, without a round trip, while the instance hears every key change (startKeyFeed).
 */
export function openDatabase(url: string, opts: { pool?: number; readCache?: boolean } = {}): Db {
  if (isPostgresUrl(url)) {
    const pool = new pg.Pool({ connectionString: url, max: opts.pool ?? 10, connectionTimeoutMillis: 3000 });
    // A client losing its connection emits 'error', and an unheard 'error' ends the process. The
    // pool hears its idle clients; a client in use (checked out by Kysely) needs its own listener.
    // Either way the query in flight fails with the error (→ 503), and the pool drops the client.
    pool.on('error', () => {});
    pool.on('connect', (client) => {
      client.on('error', () => {});
      preparedOn(client);
    });
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    if (opts.readCache ?? true) memoizeReads(kysely, snapshotVersion(pool));
    const db: Db = {
      kysely,
      dialect: 'postgres',
      requestArrived: nothing,
      keyFeed: null,
      async startKeyFeed(timing, warn) {
        if (db.keyFeed || opts.readCache === false) return;
        const feed = new KeyFeed(pool, url, timing, warn);
        await feed.start();
        db.keyFeed = feed;
      },
      settleKeyChanges: () => settleKeyChanges(pool),
      async destroy() {
        await db.keyFeed?.close();
        await kysely.destroy();
      },
    };
    return db;
  }
  if (url !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(url)), { recursive: true });
  const sqlite = new SQLite(url);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const statements = withStatementCache(sqlite);
  // Transactions begin IMMEDIATE: another process on the same file must not turn a read-then-write
  // transaction into SQLITE_BUSY_SNAPSHOT (see sqlite/dialect.ts).
  const kysely = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: statements }) });
  if (opts.readCache ?? true) memoizeReads(kysely, statements.version);
  return {
    kysely, dialect: 'sqlite', requestArrived: statements.requestArrived, keyFeed: null, startKeyFeed: () => Promise.resolve(), settleKeyChanges: settled, destroy: () => kysely.destroy(),
  };
}
