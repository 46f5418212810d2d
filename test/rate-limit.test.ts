// Rate limits (spec §1, issue 7): per key, per session user, and failed authentications per IP,
// answering 429 rate_limited with Retry-After; in memory, and shared across instances through Redis.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { PASSWORD, type TestPortal, buildTestApp } from './helpers.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function expect429(res: { statusCode: number; headers: Record<string, unknown>; data: any }) {
  expect(res.statusCode).toBe(429);
  expect(res.data.code).toBe('rate_limited');
  const retry = Number(res.headers['retry-after']);
  expect(retry).toBeGreaterThanOrEqual(1);
  expect(retry).toBeLessThanOrEqual(60);
}

/** Counters live in one-minute windows: start a test well inside one, so it cannot straddle two. */
async function awayFromMinuteEdge(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 15_000) await new Promise((r) => setTimeout(r, left + 50));
}

const portals: TestPortal[] = [];
afterAll(async () => {
  // Instances that share a database close in reverse order: the one that made it drops it last.
  for (const p of portals.reverse()) await p.close();
});

async function portal(env: Record<string, string>) {
  await awayFromMinuteEdge();
  const t = await buildTestApp(env);
  portals.push(t);
  return t;
}

describe('in memory, one instance', () => {
  it('limits requests per key and per session user', async () => {
    const t = await portal({ SIMPLEVM_RATE_LIMIT: '5' });
    const user = await t.factory.user();
    // Login and the key creation are the session's first two requests... of a fresh user:
    const key = await t.factory.key(user);
    const asKey = { key: key.key };
    for (let i = 0; i < 5; i++) expect((await t.http.get('/api/vms/', { as: asKey })).statusCode).toBe(200);
    expect429(await t.http.get('/api/vms/', { as: asKey }));

    const other = await t.factory.user();
    let last = 0;
    for (let i = 0; i < 6; i++) last = (await t.http.get('/api/auth/me', { as: other.session })).statusCode;
    expect(last).toBe(429);
    // The key's limit is its own: another user's key still works.
    const third = await t.factory.user();
    const thirdKey = await t.factory.key(third);
    expect((await t.http.get('/api/vms/', { as: { key: thirdKey.key } })).statusCode).toBe(200);
  });

  it('limits failed authentications per client IP: bad keys, bad passwords and leak reports', async () => {
    const t = await portal({ SIMPLEVM_AUTH_FAIL_LIMIT: '3' });
    const user = await t.factory.user();
    const key = await t.factory.key(user);
    const bad = { key: `${key.key.slice(0, -7)}AAAAAAA` };
    for (let i = 0; i < 2; i++) expect((await t.http.get('/api/vms/', { as: bad })).statusCode).toBe(401);
    expect((await t.http.post('/api/auth/login', { body: { username: user.username, password: 'wrong' } })).statusCode).toBe(401);
    // Three failures: now every credential from this address waits, even a good one.
    expect429(await t.http.get('/api/vms/', { as: bad }));
    expect429(await t.http.get('/api/vms/', { as: { key: key.key } }));
    expect429(await t.http.post('/api/auth/login', { body: { username: user.username, password: 'whatever' } }));
    expect429(await t.http.post('/api/keys/revoke/', { body: { key: 'svm_nothing' } }));
    // A session already made is not a credential guess: it keeps working.
    expect((await t.http.get('/api/auth/me', { as: user.session })).statusCode).toBe(200);
  });

  it('counts unknown leak reports as failures but always answers 202 until the limit', async () => {
    const t = await portal({ SIMPLEVM_AUTH_FAIL_LIMIT: '2' });
    expect((await t.http.post('/api/keys/revoke/', { body: { key: 'nope' } })).statusCode).toBe(202);
    expect((await t.http.post('/api/keys/revoke/', { body: 'garbage', headers: { 'content-type': 'text/plain' } })).statusCode).toBe(202);
    expect429(await t.http.post('/api/keys/revoke/', { body: { key: 'nope' } }));
  });
});

/** 200 wrong-password logins at once from one address, with a limit of 20 (issue 16: all were 401, none 429). */
async function concurrentBadLogins(t: TestPortal): Promise<number[]> {
  const user = await t.factory.user();
  const answers = await Promise.all(
    Array.from({ length: 200 }, () => t.http.post('/api/auth/login', { body: { username: user.username, password: 'wrong guess' } })),
  );
  return answers.map((r) => r.statusCode);
}

const tally = (codes: number[]) => codes.reduce<Record<number, number>>((acc, c) => ({ ...acc, [c]: (acc[c] ?? 0) + 1 }), {});

describe('failed logins are counted before the password is checked', () => {
  it('lets no more than the limit through when they arrive at once (memory)', async () => {
    const t = await portal({ SIMPLEVM_AUTH_FAIL_LIMIT: '20' });
    expect(tally(await concurrentBadLogins(t))).toEqual({ 401: 20, 429: 180 });
  });

  it('lets no more than the limit through when they arrive at once (Redis)', async () => {
    const redis = new Redis(REDIS_URL);
    await redis.del('simplevm:rl:authfail:127.0.0.1');
    const t = await portal({ REDIS_URL, SIMPLEVM_AUTH_FAIL_LIMIT: '20' });
    expect(tally(await concurrentBadLogins(t))).toEqual({ 401: 20, 429: 180 });
    await redis.del('simplevm:rl:authfail:127.0.0.1');
    redis.disconnect();
  });

  it('refunds a successful login, so good logins never use up the limit', async () => {
    const t = await portal({ SIMPLEVM_AUTH_FAIL_LIMIT: '3' });
    const user = await t.factory.user();
    for (let i = 0; i < 6; i++) {
      expect((await t.http.post('/api/auth/login', { body: { username: user.username, password: PASSWORD } })).statusCode).toBe(200);
    }
    for (let i = 0; i < 3; i++) {
      expect((await t.http.post('/api/auth/login', { body: { username: user.username, password: 'wrong' } })).statusCode).toBe(401);
    }
    expect429(await t.http.post('/api/auth/login', { body: { username: user.username, password: PASSWORD } }));
  });
});

describe('through Redis, across two instances', () => {
  it('shares the per-key and the failed-authentication counters', async () => {
    await awayFromMinuteEdge();
    const redis = new Redis(REDIS_URL);
    await redis.del('simplevm:rl:authfail:127.0.0.1');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svm-rl-'));
    const env = { REDIS_URL, DATABASE_URL: process.env.TEST_DATABASE_URL ? '' : path.join(dir, 'db.sqlite'), SIMPLEVM_RATE_LIMIT: '6', SIMPLEVM_AUTH_FAIL_LIMIT: '4' };
    let a: TestPortal;
    let b: TestPortal;
    if (process.env.TEST_DATABASE_URL) {
      // One PostgreSQL database for both instances.
      a = await portal({ ...env, DATABASE_URL: '' });
      const url = (a.ctx.config.databaseUrl);
      b = await portal({ ...env, DATABASE_URL: url });
    } else {
      a = await portal(env);
      b = await portal(env);
    }
    const user = await a.factory.user();
    const key = await a.factory.key(user);
    const as = { key: key.key };
    for (let i = 0; i < 3; i++) expect((await a.http.get('/api/vms/', { as })).statusCode).toBe(200);
    for (let i = 0; i < 3; i++) expect((await b.http.get('/api/vms/', { as })).statusCode).toBe(200);
    expect429(await a.http.get('/api/vms/', { as }));
    expect429(await b.http.get('/api/vms/', { as }));

    const bad = { key: `${key.key.slice(0, -7)}BBBBBBB` };
    await redis.del('simplevm:rl:authfail:127.0.0.1');
    for (let i = 0; i < 2; i++) expect((await a.http.get('/api/vms/', { as: bad })).statusCode).toBe(401);
    for (let i = 0; i < 2; i++) expect((await b.http.get('/api/vms/', { as: bad })).statusCode).toBe(401);
    expect429(await a.http.get('/api/vms/', { as: bad }));
    expect429(await b.http.post('/api/auth/login', { body: { username: user.username, password: 'x' } }));
    await redis.del('simplevm:rl:authfail:127.0.0.1');
    redis.disconnect();
  });
});
