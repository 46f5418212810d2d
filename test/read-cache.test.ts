// The read cache (db/read-cache.ts memoizeReads; its version: db/sqlite/statements.ts on SQLite,
// db/postgres/snapshot-version.ts on PostgreSQL): a memoized query answers from memory only while
// nothing can have changed, and never shows what a transaction has not committed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Db, openDatabase } from '../src/server/db/index.js';
import { migrateToLatest } from '../src/server/db/migrate.js';
import { prepared } from '../src/server/db/prepared.js';
import { memoizedRead } from '../src/server/db/read-cache.js';
import { buildTestApp, freshDatabaseUrl } from './helpers.js';

const byName = prepared((q, username: string) => q.selectFrom('users').select(['id', 'username', 'is_active']).where('username', '=', username), { memo: true });
const plain = prepared((q, username: string) => q.selectFrom('users').select(['id', 'username']).where('username', '=', username));

let dir: string;
let file: string;
let db: Db;

async function addUser(username: string): Promise<void> {
  await db.kysely.insertInto('users').values({ username, password_hash: 'x', is_superuser: 0, is_active: 1, created_at: new Date().toISOString() }).execute();
}

const activeOf = async (username: string) => (await byName(db.kysely, username)).rows[0]?.is_active;

describe('SQLite read cache', () => {
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svm-cache-'));
    file = path.join(dir, 'db.sqlite');
    db = openDatabase(file);
    await migrateToLatest(db.kysely);
    await addUser('ada');
  });
  afterEach(async () => {
    await db.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers a repeated read from memory while nothing changed, with frozen rows', async () => {
    const first = await byName(db.kysely, 'ada');
    const second = await byName(db.kysely, 'ada');
    expect(second).toBe(first);
    expect(Object.isFrozen(first.rows[0])).toBe(true);
    expect(() => {
      (first.rows[0] as { username: string }).username = 'eve';
    }).toThrow(TypeError);
    // Other arguments are other answers; unmarked queries always read.
    expect((await byName(db.kysely, 'bob')).rows).toEqual([]);
    expect(await plain(db.kysely, 'ada')).not.toBe(await plain(db.kysely, 'ada'));
  });

  it('reads afresh after a write on this connection', async () => {
    expect(await activeOf('ada')).toBe(1);
    await db.kysely.updateTable('users').set({ is_active: 0 }).where('username', '=', 'ada').execute();
    expect(await activeOf('ada')).toBe(0);
    expect((await byName(db.kysely, 'bob')).rows).toEqual([]);
    await addUser('bob');
    expect((await byName(db.kysely, 'bob')).rows).toHaveLength(1);
  });

  it('reads afresh once a request arrives after another process or connection commits', async () => {
    expect(await activeOf('ada')).toBe(1);
    const other = new SQLite(file);
    try {
      other.prepare("update users set is_active = 0 where username = 'ada'").run();
      db.requestArrived();
      expect(await activeOf('ada')).toBe(0);
      // Without a request: at the next turn of the event loop.
      other.prepare("update users set is_active = 1 where username = 'ada'").run();
      await new Promise((r) => setImmediate(r));
      expect(await activeOf('ada')).toBe(1);
    } finally {
      other.close();
    }
  });

  it('a request to one instance sees a key deleted through another on the same file at once', async () => {
    const a = await buildTestApp({ DATABASE_URL: file }, { worker: false });
    const b = await buildTestApp({ DATABASE_URL: file }, { worker: false });
    try {
      const user = await a.factory.user();
      const { key, id } = await a.factory.key(user, { scopes: ['vm:read'] });
      for (let i = 0; i < 3; i++) expect((await b.http.get('/api/vms/', { as: { key } })).statusCode).toBe(200);
      expect((await a.http.delete(`/api/keys/${id}/`, { as: user.session })).statusCode).toBe(204);
      expect((await b.http.get('/api/vms/', { as: { key } })).statusCode).toBe(401);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('never shows a write its transaction has not committed, nor one rolled back', async () => {
    expect(await activeOf('ada')).toBe(1);
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let inside: unknown;
    const trx = db.kysely.transaction().execute(async (t) => {
      await t.updateTable('users').set({ is_active: 0 }).where('username', '=', 'ada').execute();
      inside = (await byName(t, 'ada')).rows[0]?.is_active;
      await held;
      throw new Error('roll back');
    });
    // A read outside while the transaction is open: not from memory, and not the uncommitted value.
    await new Promise((r) => setTimeout(r, 20));
    const outside = activeOf('ada');
    release();
    await expect(trx).rejects.toThrow('roll back');
    expect(inside).toBe(0);
    expect(await outside).toBe(1);
    expect(await activeOf('ada')).toBe(1);
  });

  it('keeps a read made of several queries the same way, frozen through', async () => {
    let reads = 0;
    const both = memoizedRead(async (q, a: string, b: string) => {
      reads++;
      return { rows: [(await plain(q, a)).rows[0] ?? null, (await plain(q, b)).rows[0] ?? null] };
    });
    const first = await both(db.kysely, 'ada', 'bob');
    expect(await both(db.kysely, 'ada', 'bob')).toBe(first);
    expect(reads).toBe(1);
    expect(Object.isFrozen(first.rows) && Object.isFrozen(first.rows[0])).toBe(true);
    await addUser('bob');
    const second = await both(db.kysely, 'ada', 'bob');
    expect(reads).toBe(2);
    expect(second.rows[1]).toMatchObject({ username: 'bob' });
    // Inside a transaction it always reads, and keeps nothing.
    await db.kysely.transaction().execute(async (t) => {
      await both(t, 'ada', 'bob');
    });
    expect(reads).toBe(3);
  });

  it('keeps nothing when turned off', async () => {
    const off = openDatabase(file, { readCache: false });
    try {
      expect(await byName(off.kysely, 'ada')).not.toBe(await byName(off.kysely, 'ada'));
    } finally {
      await off.destroy();
    }
  });

  it('reads rows as objects of their columns: a later column of the same name wins; odd names still work', async () => {
    const row = (await db.kysely.selectFrom('users as a').innerJoin('users as b', 'b.id', 'a.id').select(['a.username', 'b.id']).executeTakeFirst())!;
    expect(row).toEqual({ username: 'ada', id: 1 });
    const odd = await sql<Record<string, unknown>>`select 2 as "constructor", 3 as "a b", 4 as x, 5 as x, '"' as "q""uote"`.execute(db.kysely);
    expect(odd.rows[0]).toEqual({ constructor: 2, 'a b': 3, x: 5, 'q"uote': '"' });
    // A column named __proto__ must not become the row's prototype.
    const proto = (await sql<Record<string, unknown>>`select 1 as "__proto__"`.execute(db.kysely)).rows[0];
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
  });
});

describe.runIf(process.env.TEST_DATABASE_URL)('PostgreSQL', () => {
  it('runs the queries Kysely sends as named statements, planned once per connection', async () => {
    const fresh = await freshDatabaseUrl();
    const pgDb = openDatabase(fresh.url, { pool: 1 });
    try {
      await migrateToLatest(pgDb.kysely);
      for (let i = 0; i < 3; i++) expect((await plain(pgDb.kysely, `u${i}`)).rows).toEqual([]);
      const { rows } = await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(pgDb.kysely);
      const mine = rows.filter((r) => r.statement.includes('"username" = $1'));
      expect(mine).toHaveLength(1);
      expect(mine[0].name).toMatch(/^svm_[0-9a-f]{24}$/);
    } finally {
      await pgDb.destroy();
      await fresh.drop();
    }
  });

  it('answers from memory while the snapshot holds, and sees another client\'s commit at once', async () => {
    const fresh = await freshDatabaseUrl();
    const pgDb = openDatabase(fresh.url);
    const other = openDatabase(fresh.url, { readCache: false });
    try {
      await migrateToLatest(pgDb.kysely);
      // Not memoized: a new answer each time.
      expect(await plain(pgDb.kysely, 'x')).not.toBe(await plain(pgDb.kysely, 'x'));
      // Memoized: the same answer while no write transaction began or ended anywhere on the server
      // (the snapshot is the whole server's: an autovacuum's ANALYZE may move it, so a few tries).
      let same = false;
      for (let i = 0; i < 10 && !same; i++) same = (await byName(pgDb.kysely, 'x')) === (await byName(pgDb.kysely, 'x'));
      expect(same).toBe(true);
      expect((await byName(pgDb.kysely, 'x')).rows).toEqual([]);
      // Another client's commit is seen by the very next read, without any notice.
      await other.kysely.insertInto('users').values({ username: 'x', password_hash: 'x', is_superuser: 0, is_active: 1, created_at: new Date().toISOString() }).execute();
      expect((await byName(pgDb.kysely, 'x')).rows.map((r) => r.username)).toEqual(['x']);
      await other.kysely.updateTable('users').set({ is_active: 0 }).where('username', '=', 'x').execute();
      expect((await byName(pgDb.kysely, 'x')).rows[0]?.is_active).toBe(0);
      // An uncommitted write is never shown outside its transaction, nor kept from inside it.
      await pgDb.kysely.transaction().execute(async (trx) => {
        await trx.updateTable('users').set({ is_active: 1 }).where('username', '=', 'x').execute();
        expect((await byName(trx, 'x')).rows[0]?.is_active).toBe(1);
        expect((await byName(other.kysely, 'x')).rows[0]?.is_active).toBe(0);
      });
      expect((await byName(pgDb.kysely, 'x')).rows[0]?.is_active).toBe(1);
    } finally {
      await other.destroy();
      await pgDb.destroy();
      await fresh.drop();
    }
  });
});
