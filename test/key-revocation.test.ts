// Revocation (spec §2): DELETE of a key takes effect before the response is sent, on every
// instance. Many loops hammer GET /api/vms/ with one key over real HTTP (keep-alive) on two server
// instances sharing one database; the key is deleted through a session on one of them, and no
// request sent after the DELETE answer arrived may succeed.
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, buildTestApp, freshDatabaseUrl } from './helpers.js';
import { tempDir } from './process.js';

const LOOPS = 32;
// Loops keep going until this many requests were sent after the DELETE answer (or time runs out).
const AFTER = 200;
const ENV = { SIMPLEVM_RATE_LIMIT: '0', SIMPLEVM_AUTH_FAIL_LIMIT: '0' };

let a: TestPortal;
let b: TestPortal;
let urlA: string;
let urlB: string;
let cleanup: () => Promise<void>;

async function listen(p: TestPortal): Promise<string> {
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(p.app.server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  // Two instances need a database they can share: a SQLite file, or one PostgreSQL database.
  const dir = tempDir();
  const fresh = process.env.TEST_DATABASE_URL ? await freshDatabaseUrl() : { url: path.join(dir.dir, 'shared.sqlite'), drop: async () => {} };
  a = await buildTestApp({ ...ENV, DATABASE_URL: fresh.url }, { worker: false });
  b = await buildTestApp({ ...ENV, DATABASE_URL: fresh.url }, { worker: false });
  urlA = await listen(a);
  urlB = await listen(b);
  cleanup = async () => {
    await a?.close();
    await b?.close();
    await fresh.drop();
    dir.remove();
  };
});
afterAll(() => cleanup());

interface Sent {
  at: number;
  status: number;
  on: string;
}

describe('deleting a key', () => {
  it('stops it before the DELETE answers: no request sent afterwards succeeds, on either instance', async () => {
    const user = await a.factory.user();
    await a.factory.project({ members: [user] });
    const { key, id } = await a.factory.key(user, { scopes: ['vm:read'] });

    const sent: Sent[] = [];
    let deletedAt = Number.POSITIVE_INFINITY;
    let afterCount = 0;
    const stopBy = performance.now() + 20_000;
    let successes = 0;

    const loop = async (base: string) => {
      while (afterCount < AFTER && performance.now() < stopBy) {
        const at = performance.now();
        if (at > deletedAt) afterCount++;
        let status = 0;
        try {
          const res = await fetch(`${base}/api/vms/`, { headers: { 'x-api-key': key } });
          status = res.status;
          await res.arrayBuffer();
        } catch {
          status = -1; // a transport error is no success either; it is counted below
        }
        if (status === 200) successes++;
        sent.push({ at, status, on: base });
      }
    };
    const loops = Array.from({ length: LOOPS }, (_, i) => loop(i % 2 ? urlB : urlA));

    // Let the loops get going (they must succeed for a while), then delete through instance A.
    const until = performance.now() + 10_000;
    while (successes < 4 * LOOPS && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
    const del = await fetch(`${urlA}/api/keys/${id}/`, { method: 'DELETE', headers: { cookie: user.session.cookie, 'x-csrf-token': user.session.csrf } });
    deletedAt = performance.now();
    expect(del.status).toBe(204);
    await Promise.all(loops);

    const before = sent.filter((s) => s.at <= deletedAt);
    const after = sent.filter((s) => s.at > deletedAt);
    expect(before.filter((s) => s.status === 200).length).toBeGreaterThanOrEqual(4 * LOOPS);
    expect(after.length).toBeGreaterThanOrEqual(AFTER);
    expect(after.filter((s) => s.status === 200)).toEqual([]);
    // Every request after the delete was refused as an unknown key, on both instances.
    expect(new Set(after.map((s) => s.status))).toEqual(new Set([401]));
    expect(new Set(after.map((s) => s.on))).toEqual(new Set([urlA, urlB]));
    expect(sent.filter((s) => s.status === -1)).toEqual([]);

    const me = await fetch(`${urlB}/api/auth/me`, { headers: { authorization: `Bearer ${key}` } });
    expect(me.status).toBe(401);
  });
});
