// Issue 16, the security review: each finding reproduced as it was reported, on the database the
// suite runs on (SQLite, or PostgreSQL with TEST_DATABASE_URL).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerToken, readableForwardedFor } from '../src/server/http/guard.js';
import { loadConfig } from '../src/server/config.js';
import { type TestPortal, buildTestApp } from './helpers.js';

const portals: TestPortal[] = [];
afterAll(async () => {
  for (const p of portals.reverse()) await p.close();
});
async function portal(env: Record<string, string> = {}, opts: Parameters<typeof buildTestApp>[1] = {}): Promise<TestPortal> {
  const t = await buildTestApp(env, opts);
  portals.push(t);
  return t;
}

async function listen(t: TestPortal): Promise<string> {
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
}

interface Sent {
  status: number;
  body: string;
  ms: number;
}

/** One request over real HTTP, optionally from a chosen local address (the loopback range is all ours). */
function send(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string; from?: string } = {}): Promise<Sent> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, localAddress: opts.from, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('1. the Authorization header is parsed in linear time', () => {
  const crafted = `Bearer${' '.repeat(16_000)}x y`;

  it('answers the crafted header quickly, in this process', () => {
    const started = performance.now();
    for (let i = 0; i < 10; i++) expect(bearerToken(crafted)).toBe('');
    expect((performance.now() - started) / 10).toBeLessThan(50);
  });

  it('parses what the old pattern accepted, and refuses the rest', () => {
    expect(bearerToken('Bearer svm_abc')).toBe('svm_abc');
    expect(bearerToken('bearer \t svm_abc  ')).toBe('svm_abc');
    expect(bearerToken('BEARER svm_abc')).toBe('svm_abc');
    expect(bearerToken('Bearer ')).toBe('');
    expect(bearerToken('Bearer a b')).toBe('');
    expect(bearerToken('Bearersvm_abc')).toBe('');
    expect(bearerToken('Basic svm_abc')).toBe('');
    expect(bearerToken(`Bearer ${'k'.repeat(2000)}`)).toBe('');
  });

  it('keeps /healthz fast while 8 crafted requests are in flight', async () => {
    const t = await portal();
    const base = await listen(t);
    const crafts = Array.from({ length: 8 }, () => send(`${base}/api/vms/`, { headers: { authorization: crafted } }));
    const health = await send(`${base}/healthz`);
    expect(health.status).toBe(200);
    const answers = await Promise.all(crafts);
    for (const a of answers) {
      expect(a.status).toBe(401);
      expect(JSON.parse(a.body).code).toBe('not_authenticated');
    }
    // Generous for a loaded 2-core machine; the quadratic pattern took 2 s here.
    expect(health.ms).toBeLessThan(500);
  });
});

describe('2. X-Forwarded-For is believed only from the configured proxies', () => {
  it('refuses SIMPLEVM_TRUST_PROXY=true and bad entries at start, and takes a hop count or addresses', () => {
    expect(() => loadConfig({ SIMPLEVM_TRUST_PROXY: 'true' })).toThrow(/SIMPLEVM_TRUST_PROXY=true would believe any client/);
    expect(() => loadConfig({ SIMPLEVM_TRUST_PROXY: '10.0.0.0/33' })).toThrow(/SIMPLEVM_TRUST_PROXY/);
    expect(() => loadConfig({ SIMPLEVM_TRUST_PROXY: 'proxy.example' })).toThrow(/SIMPLEVM_TRUST_PROXY/);
    expect(() => loadConfig({ SIMPLEVM_TRUST_PROXY: '0' })).toThrow(/SIMPLEVM_TRUST_PROXY/);
    expect(loadConfig({ SIMPLEVM_TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ SIMPLEVM_TRUST_PROXY: '127.0.0.2, 10.0.0.0/8,::1' }).trustProxy).toEqual(['127.0.0.2', '10.0.0.0/8', '::1']);
    expect(loadConfig({}).trustProxy).toBe(false);
  });

  /**
   * A reverse proxy as nginx with `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for`:
   * it appends the address of its client to what the client sent, and talks to the portal from
   * 127.0.0.2.
   */
  async function proxyTo(base: string): Promise<{ url: string; close: () => Promise<void> }> {
    const server = http.createServer((req, res) => {
      const sent = req.headers['x-forwarded-for'];
      const forwarded = `${sent ? `${sent}, ` : ''}${req.socket.remoteAddress}`;
      const upstream = http.request(`${base}${req.url}`, {
        method: req.method,
        headers: { ...req.headers, 'x-forwarded-for': forwarded },
        localAddress: '127.0.0.2',
        agent: false,
      }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
  }

  /** Logs in through `url` from 127.0.0.3, claiming to be 10.9.8.7, and returns the address the portal recorded. */
  async function recordedAddress(t: TestPortal, url: string, xff = '10.9.8.7'): Promise<string | null> {
    const user = await t.factory.user();
    const login = await send(`${url}/api/auth/login`, {
      method: 'POST', from: '127.0.0.3',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': xff },
      body: JSON.stringify({ username: user.username, password: 'correct horse battery staple' }),
    });
    expect(login.status).toBe(200);
    // The newest login of the user (the factory logged them in once already, without a proxy).
    const event = await t.ctx.db.kysely.selectFrom('audit_events').select('ip').where('actor_id', '=', user.id).where('action', '=', 'login')
      .orderBy('id', 'desc').executeTakeFirstOrThrow();
    return event.ip;
  }

  for (const trust of ['127.0.0.2', '127.0.0.2/32', '1']) {
    it(`takes the client's address from the proxy's hop, never from what the client wrote (SIMPLEVM_TRUST_PROXY=${trust})`, async () => {
      const t = await portal({ SIMPLEVM_TRUST_PROXY: trust });
      const base = await listen(t);
      const proxy = await proxyTo(base);
      try {
        expect(await recordedAddress(t, proxy.url)).toBe('127.0.0.3');
        expect(await recordedAddress(t, proxy.url, '10.9.8.7, 10.1.1.1')).toBe('127.0.0.3');
        if (trust !== '1') {
          // Straight to the portal, not through the proxy: the header is the client's own word.
          expect(await recordedAddress(t, base)).toBe('127.0.0.3');
        }
      } finally {
        await proxy.close();
      }
    });
  }

  it('reads X-Forwarded-For from the right only as far as it holds addresses', () => {
    expect(readableForwardedFor('10.0.0.1,127.0.0.3')).toBe('10.0.0.1, 127.0.0.3');
    expect(readableForwardedFor('junk, 10.0.0.1,127.0.0.3')).toBe('10.0.0.1, 127.0.0.3');
    expect(readableForwardedFor('10.0.0.1, junk')).toBeUndefined();
    expect(readableForwardedFor(`${'x'.repeat(15_000)}`)).toBeUndefined();
    expect(readableForwardedFor('::1, 2001:db8::1')).toBe('::1, 2001:db8::1');
  });

  it('never takes something that is not an address for the client\'s address (it was a 500 on PostgreSQL)', async () => {
    const t = await portal({ SIMPLEVM_TRUST_PROXY: '1' });
    const base = await listen(t);
    // Straight to the portal with junk: the junk is not an address, so the peer's address is used.
    expect(await recordedAddress(t, base, `${'z'.repeat(100)}`)).toBe('127.0.0.3');
    expect(await recordedAddress(t, base, `10.1.2.3, ${'z'.repeat(100)}`)).toBe('127.0.0.3');
    const proxy = await proxyTo(base);
    try {
      expect(await recordedAddress(t, proxy.url, `${'z'.repeat(100)}`)).toBe('127.0.0.3');
    } finally {
      await proxy.close();
    }
  });

  it('keeps the failed-authentication limit per real client however X-Forwarded-For is spoofed', async () => {
    const t = await portal({ SIMPLEVM_TRUST_PROXY: '127.0.0.2', SIMPLEVM_AUTH_FAIL_LIMIT: '3' });
    const base = await listen(t);
    const proxy = await proxyTo(base);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await send(`${proxy.url}/api/vms/`, { from: '127.0.0.3', headers: { 'x-api-key': `svm_${'a'.repeat(8)}_${'b'.repeat(38)}`, 'x-forwarded-for': `10.0.0.${i}` } });
        statuses.push(r.status);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      // Another real client behind the same proxy is not held back.
      expect((await send(`${proxy.url}/api/vms/`, { from: '127.0.0.4', headers: { 'x-api-key': 'svm_x' } })).status).toBe(401);
    } finally {
      await proxy.close();
    }
  });
});

describe('4. a key bound to a project sees only that project in the audit log', () => {
  it('shows a bound superuser key neither other projects\' events nor logins', async () => {
    const t = await portal();
    const admin = await t.factory.user({ superuser: true });
    const alice = await t.factory.user();
    const mine = await t.factory.project({ admins: [admin], members: [alice] });
    const other = await t.factory.project({ admins: [admin], members: [alice] });
    const inMine = await t.factory.vm(alice, mine.id);
    const inOther = await t.factory.vm(alice, other.id);
    await t.factory.volume(alice, other.id);

    const bound = await t.factory.key(admin, { scopes: ['vm:read'], own_objects_only: false, project_id: mine.id });
    const unbound = await t.factory.key(admin, { scopes: ['vm:read'], own_objects_only: false });
    const seen = async (key: string) => {
      const res = await t.http.get('/api/audit/?page_size=500', { as: { key } });
      expect(res.statusCode).toBe(200);
      return res.data.results as { action: string; object_id: string | null; actor: string | null }[];
    };
    const boundSees = await seen(bound.key);
    expect(boundSees.map((e) => e.object_id)).toContain(inMine.openstack_id);
    expect(boundSees.map((e) => e.object_id)).not.toContain(inOther.openstack_id);
    expect(boundSees.filter((e) => e.action.startsWith('login') || e.action.startsWith('volume'))).toEqual([]);
    // The same user without the binding sees everything, as a superuser does.
    const unboundSees = await seen(unbound.key);
    expect(unboundSees.map((e) => e.object_id)).toContain(inOther.openstack_id);
    expect(unboundSees.some((e) => e.action === 'login')).toBe(true);

    // A member's bound key: their own events of that project only.
    const aliceBound = await t.factory.key(alice, { scopes: ['vm:read'], project_id: mine.id });
    const aliceSees = (await t.http.get('/api/audit/?page_size=500', { as: { key: aliceBound.key } })).data.results as { object_id: string | null }[];
    expect(aliceSees.map((e) => e.object_id)).toContain(inMine.openstack_id);
    expect(aliceSees.map((e) => e.object_id)).not.toContain(inOther.openstack_id);
    expect(aliceSees.length).toBe(aliceSees.filter((e) => e.object_id !== null).length);
  });
});

describe('7. a key in a URL never reaches the log, however it is encoded', () => {
  it('masks percent-encoded keys in logged URLs', async () => {
    const lines: string[] = [];
    const t = await portal({ SIMPLEVM_LOG_LEVEL: 'info' }, { logStream: { write: (line) => void lines.push(line) } });
    const user = await t.factory.user();
    const { key } = await t.factory.key(user);
    const secret = key.slice(13);
    const encodings = [
      key.replace('_', '%5F'),
      key.replaceAll('_', '%5f'),
      `%73%76%6D%5F${key.slice(4)}`,
      key.replace('_', '%255F'),
      encodeURIComponent(key).replace(/[A-Za-z]/g, (c) => `%${c.charCodeAt(0).toString(16)}`),
    ];
    for (const encoded of encodings) {
      await t.http.get(`/api/vms/?api_key=${encoded}&text=${encoded}`);
      await t.http.get(`/api/vms/${encoded}/`);
    }
    const log = lines.join('');
    expect(log).toContain('/api/vms/');
    expect(log).not.toContain(secret);
    expect(log).not.toContain(secret.slice(0, 16));
  });
});

describe('9. login CSRF: a login posted by another site is refused', () => {
  let t: TestPortal;
  let username: string;
  beforeAll(async () => {
    t = await portal({ SIMPLEVM_PUBLIC_URL: 'https://portal.example.org' });
    username = (await t.factory.user()).username;
  });
  const login = (headers: Record<string, string>, form = false) =>
    t.http.post('/api/auth/login', { body: { username, password: 'correct horse battery staple' }, headers, form });

  it.each([
    [{ origin: 'https://evil.example' }],
    [{ origin: 'null' }],
    [{ origin: 'http://localhost:80.evil.example' }],
    [{ origin: 'not a url' }],
    [{ 'sec-fetch-site': 'cross-site' }],
    [{ 'sec-fetch-site': 'cross-site', origin: 'http://localhost:80' }],
  ])('refuses %o with 403 csrf_failed, before any password check', async (headers) => {
    for (const form of [false, true]) {
      const res = await login(headers, form);
      expect(res.statusCode).toBe(403);
      expect(res.data.code).toBe('csrf_failed');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
  });

  it.each([
    [{}],
    [{ origin: 'http://localhost:80', 'sec-fetch-site': 'same-origin' }],
    [{ origin: 'https://portal.example.org' }],
    [{ 'sec-fetch-site': 'none' }],
  ])('accepts %o', async (headers) => {
    const res = await login(headers);
    expect(res.statusCode).toBe(200);
  });
});

describe('11. contract points', () => {
  it('answers 202 to any leak report, also one over 16 KB, and reads no more of it', async () => {
    const t = await portal();
    const user = await t.factory.user();
    const { key } = await t.factory.key(user);
    const base = await listen(t);
    const bodies: [string, Record<string, string>][] = [
      [JSON.stringify({ key: 'x'.repeat(17 * 1024) }), { 'content-type': 'application/json' }],
      [`key=${'y'.repeat(300 * 1024)}`, { 'content-type': 'application/x-www-form-urlencoded' }],
      ['{"key": ', { 'content-type': 'application/json' }],
      ['\u0000\u0001', {}],
      ['', { 'content-type': 'application/json' }],
    ];
    for (const [body, headers] of bodies) {
      const res = await send(`${base}/api/keys/revoke/`, { method: 'POST', body, headers });
      expect(res.status).toBe(202);
      expect(JSON.parse(res.body)).toEqual({ detail: 'Thank you. If this was a live key, it has been revoked.' });
    }
    // A declared length beyond the limit is answered at once, before any of the body arrives.
    const early = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${base}/portal/api/keys/revoke/`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(50 * 1024 * 1024) }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('{"key": "');
    });
    expect(early).toBe(202);
    // The key reported in a readable body still dies.
    expect((await send(`${base}/api/keys/revoke/`, { method: 'POST', body: JSON.stringify({ key }), headers: { 'content-type': 'application/json' } })).status).toBe(202);
    expect((await t.http.get('/api/auth/me', { as: { key } })).statusCode).toBe(401);
  });

  it('answers 404 for a path id that cannot be an id (over-long, not a number, out of range)', async () => {
    const t = await portal();
    const admin = await t.factory.user({ superuser: true });
    const { key } = await t.factory.key(admin, { own_objects_only: false });
    const paths = [
      `/api/vms/${'a'.repeat(300)}/`,
      `/api/volumes/${'v'.repeat(201)}/`,
      `/api/projects/${'1'.repeat(250)}/`,
      '/api/projects/99999999999999999/',
      '/api/projects/abc/flavors/',
      '/portal/api/projects/-1/',
    ];
    for (const path of paths) {
      const res = await t.http.get(path, { as: { key } });
      expect([path, res.statusCode, res.data?.code]).toEqual([path, 404, 'not_found']);
    }
    for (const path of [`/api/keys/${'9'.repeat(300)}/`, '/api/keys/99999999999999999999/', '/api/keys/abc/']) {
      const res = await t.http.delete(path, { as: admin.session });
      expect([path, res.statusCode, res.data?.code]).toEqual([path, 404, 'not_found']);
    }
  });
});
