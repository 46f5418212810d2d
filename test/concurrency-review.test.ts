// Two findings of the security review, both about concurrent writes:
// 1. concurrent rotations of one key (overlap_hours=0) made several live successors on PostgreSQL:
//    the rotation must lock the old key, and a rotation that finds it gone answers 404;
// 2. two processes on one SQLite file answered 500 (SQLITE_BUSY_SNAPSHOT): a transaction that read
//    and then wrote found its snapshot outdated by the other process's commit. Write transactions
//    begin IMMEDIATE (take the write lock first), and every busy/locked code is 503, never 500.
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/server/db/index.js';
import { migrateToLatest } from '../src/server/db/migrate.js';
import { type TestPortal, buildTestApp, unique } from './helpers.js';
import { ApiClient, type Reply, type ServerProcess, startServer, tempDir } from './process.js';

const ROTATIONS = 10;

/** `n` rotations of one key sent at once, each over its own HTTP connection, spread over `clients`. */
async function rotateConcurrently(clients: ApiClient[], id: number, n = ROTATIONS): Promise<Reply[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => clients[i % clients.length].post(`/api/keys/${id}/rotate/`, { overlap_hours: 0 })));
}

/** The answers are one 201 and otherwise 404 not_found: never a 500 or 503, never a second successor. */
function expectOneWinner(replies: Reply[]): Reply {
  const statuses = replies.map((r) => r.status).sort();
  expect(statuses, JSON.stringify(replies.filter((r) => r.status !== 201 && r.status !== 404))).toEqual([201, ...Array<number>(replies.length - 1).fill(404)]);
  for (const r of replies.filter((x) => x.status === 404)) expect(r.data.code).toBe('not_found');
  return replies.find((r) => r.status === 201)!;
}

async function liveKeysNamed(client: ApiClient, name: string): Promise<Array<{ id: number }>> {
  const list = await client.get('/api/keys/');
  expect(list.status).toBe(200);
  return (list.data as Array<{ id: number; name: string }>).filter((k) => k.name === name);
}

describe('concurrent rotations of one key (through real HTTP)', () => {
  let t: TestPortal;
  let base: string;
  beforeAll(async () => {
    // Real sockets, so that the rotations are really in flight together (on PostgreSQL, over a
    // pool of connections): inject() may run them one after another and hide the race.
    t = await buildTestApp({ SIMPLEVM_DB_POOL: '10' }, { worker: false });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => t?.close());

  it('make exactly one successor; the others answer 404 as for a key that does not exist', async () => {
    const user = await t.factory.user();
    const client = Object.assign(new ApiClient(base), user.session);
    for (let round = 0; round < 3; round++) {
      const name = unique('rot').slice(0, 40);
      const { id } = await t.factory.key(user, { name });
      const winner = expectOneWinner(await rotateConcurrently([client], id));
      expect((await liveKeysNamed(client, name)).map((k) => k.id)).toEqual([winner.data.id]);
      // The successor works, and the old key answers 404 to a later rotation too.
      expect((await fetch(`${base}/api/auth/me`, { headers: { 'x-api-key': winner.data.key } })).status).toBe(200);
      expect((await client.post(`/api/keys/${id}/rotate/`, { overlap_hours: 0 })).status).toBe(404);
    }
  });
});

/**
 * A writer in another thread on the same file, standing for another process: a write there may
 * wait for our lock (busy_timeout) without stopping this thread, which holds it.
 */
function otherWriter(file: string) {
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const SQLite = require(workerData.driver);
    const db = new SQLite(workerData.file);
    db.pragma('busy_timeout = 5000');
    parentPort.on('message', (username) => {
      parentPort.postMessage({ state: 'writing' });
      try {
        db.prepare("insert into users (username, password_hash, is_superuser, is_active, created_at) values (?, 'x', 0, 1, '2024-01-01T00:00:00Z')").run(username);
        parentPort.postMessage({ state: 'wrote' });
      } catch (err) {
        parentPort.postMessage({ state: 'failed', code: err.code });
      }
    });
    `,
    { eval: true, workerData: { file, driver: createRequire(import.meta.url).resolve('better-sqlite3') } },
  );
  const next = () => new Promise<{ state: string; code?: string }>((resolve) => worker.once('message', resolve));
  return {
    /** Sends the write; resolves once the other thread is about to run it. */
    async write(username: string): Promise<{ done: Promise<{ state: string; code?: string }> }> {
      const started = next();
      worker.postMessage(username);
      await started;
      return { done: next() };
    },
    close: () => worker.terminate(),
  };
}

describe('two connections on one SQLite file (WAL)', () => {
  it('a transaction that reads, then writes after another connection committed, neither fails nor loses a write', async () => {
    const { dir, remove } = tempDir('svm-busy-');
    const file = path.join(dir, 'db.sqlite');
    const db = openDatabase(file);
    const other = otherWriter(file);
    try {
      await migrateToLatest(db.kysely);
      let otherDone!: Promise<{ state: string; code?: string }>;
      const settled = await db.kysely.transaction().execute(async (trx) => {
        // The read snapshot (a deferred BEGIN would take no lock until the first write).
        await trx.selectFrom('users').select('id').execute();
        ({ done: otherDone } = await other.write('other'));
        // Give the other thread time to commit, or to start waiting for our lock.
        await Promise.race([otherDone, new Promise((r) => setTimeout(r, 300))]);
        await trx.insertInto('users').values({ username: 'mine', password_hash: 'x', is_superuser: 0, is_active: 1, created_at: new Date().toISOString() }).execute();
      }).then(() => 'committed', (err: { code?: string }) => `failed: ${err.code}`);
      expect(settled).toBe('committed');
      // The other writer waited for our commit, then wrote.
      expect(await otherDone).toEqual({ state: 'wrote' });
      const names = (await db.kysely.selectFrom('users').select('username').execute()).map((u) => u.username).sort();
      expect(names).toEqual(['mine', 'other']);

      // A transaction declared read-only takes no write lock: the other writer need not wait for it.
      await db.kysely.transaction().setAccessMode('read only').execute(async (trx) => {
        await trx.selectFrom('users').select('id').execute();
        const { done } = await other.write('while-reading');
        expect(await done).toEqual({ state: 'wrote' });
      });
    } finally {
      await other.close();
      await db.destroy();
      remove();
    }
  });
});

describe('two server processes on one SQLite file', { timeout: 120_000 }, () => {
  let dir: ReturnType<typeof tempDir>;
  let servers: ServerProcess[] = [];
  let clients: ApiClient[];
  beforeAll(async () => {
    dir = tempDir('svm-two-sqlite-');
    const env = { DATABASE_URL: path.join(dir.dir, 'portal.sqlite'), SIMPLEVM_API_KEYS_FOR: 'all', SIMPLEVM_RATE_LIMIT: '0', SIMPLEVM_AUTH_FAIL_LIMIT: '0' };
    // One after the other: the first makes the schema and the admin; the second finds them.
    servers.push(await startServer(env));
    servers.push(await startServer(env));
    const password = /with password (\S+) and project/.exec(servers[0].stdout())?.[1];
    expect(password, servers[0].stdout()).toBeDefined();
    const onA = new ApiClient(servers[0].url);
    expect((await onA.login('admin', password!)).status).toBe(200);
    const onB = Object.assign(new ApiClient(servers[1].url), { cookie: onA.cookie, csrf: onA.csrf });
    clients = [onA, onB];
  }, 120_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
    servers = [];
    dir?.remove();
  });

  it('concurrent rotations over both: exactly one successor per key, the others 404, never a 500 or 503', async () => {
    // Several keys rotated at once, so that transactions of the two processes overlap often (one
    // rotation of one key per round would race the other process's only now and then).
    for (let round = 0; round < 8; round++) {
      const names = Array.from({ length: 4 }, (_, i) => `rot-${round}-${i}`);
      const ids: number[] = [];
      for (const name of names) {
        const made = await clients[0].post('/api/keys/', { name, scopes: ['vm:read'] });
        expect(made.status).toBe(201);
        ids.push(made.data.id);
      }
      const replies = await Promise.all(ids.map((id) => rotateConcurrently(clients, id, 6)));
      for (const [i, r] of replies.entries()) {
        const winner = expectOneWinner(r);
        for (const c of clients) expect((await liveKeysNamed(c, names[i])).map((k) => k.id)).toEqual([winner.data.id]);
      }
    }
    for (const s of servers) expect(s.stdout()).not.toMatch(/SQLITE_BUSY/);
  });
});
