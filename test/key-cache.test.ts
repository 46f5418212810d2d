// The key cache across instances (issue 17; src/server/db/postgres/key-feed.ts): on PostgreSQL each
// instance keeps verified keys in memory, and a revocation still holds on every instance before its
// answer. Three portals on one fresh PostgreSQL database. Runs whenever PostgreSQL is reachable,
// also when the suite runs on SQLite.
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setUserFlags } from '../src/server/modules/users/users.service.js';
import { type TestPortal, type TestUser, buildTestApp, sleep } from './helpers.js';
import { type FreshDatabase, freshPgDatabase, pgReachable } from './pg.js';

const reachable = await pgReachable();

let fresh: FreshDatabase;
let a: TestPortal;
let b: TestPortal;
let c: TestPortal;

beforeAll(async () => {
  if (!reachable) return;
  fresh = await freshPgDatabase('svm_keycache');
  a = await buildTestApp({ DATABASE_URL: fresh.url }, { worker: false });
  b = await buildTestApp({ DATABASE_URL: fresh.url }, { worker: false });
  c = await buildTestApp({ DATABASE_URL: fresh.url }, { worker: false });
}, 60_000);

afterAll(async () => {
  if (!reachable) return;
  await a?.close();
  await b?.close();
  await c?.close();
  await fresh?.drop();
});

const statusOn = async (p: TestPortal, key: string, url = '/api/vms/') => (await p.http.get(url, { as: { key } })).statusCode;

async function keyedUser(scopes = ['vm:read']): Promise<{ user: TestUser; key: string; id: number }> {
  const user = await a.factory.user();
  await a.factory.project({ members: [user] });
  const { key, id } = await a.factory.key(user, { scopes });
  return { user, key, id };
}

/** Until `check` holds, or fails after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const by = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > by) throw new Error('condition not met in time');
    await sleep(20);
  }
}

/**
 * Loops that use `key` on the given instances until `revoke` has answered and then some more;
 * returns the successes of requests sent after the answer arrived (must be 0) and before.
 */
async function hammer(key: string, on: TestPortal[], revoke: () => Promise<void>, opts: { loops?: number; after?: number } = {}) {
  const loops = opts.loops ?? 24;
  const wanted = opts.after ?? 300;
  let revokedAt = Number.POSITIVE_INFINITY;
  let sentAfter = 0;
  let after = 0;
  let before = 0;
  const stopBy = performance.now() + 30_000;
  const loop = async (p: TestPortal) => {
    while (sentAfter < wanted && performance.now() < stopBy) {
      const at = performance.now();
      if (at > revokedAt) sentAfter++;
      const status = await statusOn(p, key);
      if (status === 200) {
        if (at > revokedAt) after++;
        else before++;
      }
    }
  };
  const running = Array.from({ length: loops }, (_, i) => loop(on[i % on.length]));
  await until(() => before >= loops);
  await revoke();
  revokedAt = performance.now();
  await Promise.all(running);
  return { after, before, sentAfter };
}

describe.skipIf(!reachable)('keys kept in memory on PostgreSQL, exact across instances', () => {
  it('each instance listens for key changes and keeps a heartbeat row saying it answers from memory', async () => {
    for (const p of [a, b, c]) expect(p.ctx.db.keyFeed?.trusted()).toBe(true);
    const rows = await fresh.query<{ id: string; caching: number }>('select id, caching from portal_instances order by id');
    expect(rows.map((r) => r.id).sort()).toEqual([a, b, c].map((p) => p.ctx.db.keyFeed?.instanceId).sort());
    expect(rows.every((r) => Number(r.caching) === 1)).toBe(true);
  });

  it('answers a key from memory once verified: a change made behind the triggers\' back is not seen (which is why every change goes through them)', async () => {
    const { key, id } = await keyedUser();
    expect(await statusOn(b, key)).toBe(200);
    // session_replication_role = replica: no trigger fires, so no instance hears of this change.
    const client = await fresh.pool.connect();
    try {
      await client.query('begin');
      await client.query('set local session_replication_role = replica');
      await client.query('update api_keys set deleted_at = $2 where id = $1', [id, new Date().toISOString()]);
      await client.query('commit');
    } finally {
      client.release();
    }
    expect(await statusOn(b, key)).toBe(200); // kept: no database read
    expect(await statusOn(c, key)).toBe(401); // never kept there: read, and found deleted
  });

  it('a key deleted through one instance fails on the others for every request sent after the DELETE answered', async () => {
    const { user, key, id } = await keyedUser();
    const result = await hammer(key, [b, c, a], async () => {
      expect((await a.http.delete(`/api/keys/${id}/`, { as: user.session })).statusCode).toBe(204);
    });
    expect(result.before).toBeGreaterThan(0);
    expect(result.sentAfter).toBeGreaterThan(0);
    expect(result.after).toBe(0);
  });

  it('rotation without overlap, a leak report, deactivation and demotion hold on every instance at once', async () => {
    // Rotation: the old key dies on B and C before the answer.
    const r = await keyedUser();
    for (const p of [b, c]) expect(await statusOn(p, r.key)).toBe(200);
    const rotated = await a.http.post(`/api/keys/${r.id}/rotate/`, { as: r.user.session, body: { overlap_hours: 0 } });
    expect(rotated.statusCode).toBe(201);
    for (const p of [b, c]) expect(await statusOn(p, r.key)).toBe(401);
    for (const p of [b, c]) expect(await statusOn(p, rotated.data.key)).toBe(200);

    // Rotation with overlap: the old key's shorter life is known everywhere at once.
    const o = await keyedUser();
    for (const p of [b, c]) expect(await statusOn(p, o.key)).toBe(200);
    const overlapped = await a.http.post(`/api/keys/${o.id}/rotate/`, { as: o.user.session, body: { overlap_hours: 1 } });
    expect(overlapped.statusCode).toBe(201);
    await a.ctx.db.kysely.updateTable('api_keys').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', o.id).execute();
    await a.ctx.db.settleKeyChanges();
    for (const p of [b, c]) expect(await statusOn(p, o.key)).toBe(401);

    // A leak report, by anyone, anywhere.
    const l = await keyedUser();
    for (const p of [b, c]) expect(await statusOn(p, l.key)).toBe(200);
    expect((await a.http.post('/api/keys/revoke/', { as: null, body: { key: l.key } })).statusCode).toBe(202);
    for (const p of [b, c]) expect(await statusOn(p, l.key)).toBe(401);

    // The administrator deactivates the user (as `simplevm user set --inactive` does: a transaction, then settled).
    const d = await keyedUser();
    for (const p of [b, c]) expect(await statusOn(p, d.key)).toBe(200);
    await a.ctx.db.kysely.transaction().execute((trx) => setUserFlags(trx, d.user.username, { isActive: false }));
    await a.ctx.db.settleKeyChanges();
    for (const p of [b, c]) expect(await statusOn(p, d.key)).toBe(401);
    await a.ctx.db.kysely.transaction().execute((trx) => setUserFlags(trx, d.user.username, { isActive: true }));
    await a.ctx.db.settleKeyChanges();
    for (const p of [b, c]) expect(await statusOn(p, d.key)).toBe(200);
  });

  it('a demoted superuser\'s key stops where keys are for superusers only', async () => {
    const gated = await buildTestApp({ DATABASE_URL: fresh.url, SIMPLEVM_API_KEYS_FOR: 'superusers' }, { worker: false });
    try {
      const admin = await a.factory.user({ superuser: true });
      const { key } = await a.factory.key(admin, { scopes: ['vm:read'] });
      expect(await statusOn(gated, key)).toBe(200);
      await a.ctx.db.kysely.transaction().execute((trx) => setUserFlags(trx, admin.username, { isSuperuser: false }));
      await a.ctx.db.settleKeyChanges();
      expect((await gated.http.get('/api/vms/', { as: { key } })).data.code).toBe('api_keys_not_enabled');
    } finally {
      await gated.close();
    }
  });

  it('an instance whose LISTEN connection is cut forgets every key, reads the database meanwhile, and listens again', async () => {
    const { user, key, id } = await keyedUser();
    expect(await statusOn(b, key)).toBe(200);
    const feed = b.ctx.db.keyFeed;
    const pid = feed?.listenerPid;
    expect(pid).toBeTypeOf('number');
    const result = await hammer(key, [b, c], async () => {
      // Cut B's LISTEN backend, then revoke at once through A: B cannot have heard the change.
      await fresh.pool.query('select pg_terminate_backend($1)', [pid]);
      expect((await a.http.delete(`/api/keys/${id}/`, { as: user.session })).statusCode).toBe(204);
    });
    expect(result.after).toBe(0);
    // It listens again (a new backend) and answers from memory again.
    await until(() => feed?.trusted() === true && feed.listenerPid !== pid);
    const fresh2 = await keyedUser();
    expect(await statusOn(b, fresh2.key)).toBe(200);
  });

  it('a revocation waits for a live instance that has not acknowledged, until its lease lapses, and no longer', async () => {
    // An instance that took a lease and then went silent (a frozen process): 1.5 s of lease left.
    await a.ctx.db.kysely
      .insertInto('portal_instances')
      .values({ id: 'silent-instance', lease_until: sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint + 1500`, caching: 1, started_at: new Date().toISOString() })
      .execute();
    const { user, id } = await keyedUser();
    const start = performance.now();
    expect((await a.http.delete(`/api/keys/${id}/`, { as: user.session })).statusCode).toBe(204);
    const waited = performance.now() - start;
    expect(waited).toBeGreaterThan(1000);
    expect(waited).toBeLessThan(5000);
    // A closed instance removes its row: nobody waits for it.
    const gone = await buildTestApp({ DATABASE_URL: fresh.url }, { worker: false });
    const goneId = gone.ctx.db.keyFeed?.instanceId;
    await gone.close();
    expect(await fresh.query('select id from portal_instances where id = $1', [goneId])).toEqual([]);
  });

  it('with SIMPLEVM_READ_CACHE=false an instance keeps nothing and needs no acknowledgement', async () => {
    const plain = await buildTestApp({ DATABASE_URL: fresh.url, SIMPLEVM_READ_CACHE: 'false' }, { worker: false });
    try {
      expect(plain.ctx.db.keyFeed).toBeNull();
      const { user, key, id } = await keyedUser();
      expect(await statusOn(plain, key)).toBe(200);
      expect((await a.http.delete(`/api/keys/${id}/`, { as: user.session })).statusCode).toBe(204);
      expect(await statusOn(plain, key)).toBe(401);
    } finally {
      await plain.close();
    }
  });
});
