// Single sign-on routes through the real server (inject): what a portal without single sign-on
// answers, password login switched off, and the callback's refusals — each a redirect to the login
// page with a reason, never an error page or a 500; and, against a real provider signed in to over
// HTTP, where a login returns to for each `next` it may be given. The whole flow in Chromium is
// test/browser/oidc.test.ts.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, type TestUser, buildTestApp } from './helpers.js';
import { CLIENT_ID, CLIENT_SECRET, type TestProvider, signInAtProvider, startProvider } from './oidc-provider.js';

/** A port on 127.0.0.1 where nothing listens: a provider that is down. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

describe('a portal without single sign-on', () => {
  let t: TestPortal;
  let user: TestUser;
  beforeAll(async () => {
    t = await buildTestApp();
    user = await t.factory.user();
  });
  afterAll(() => t.close());

  it('says so publicly, and has no login or callback to go to', async () => {
    for (const prefix of ['/api', '/portal/api']) {
      const info = await t.http.get(`${prefix}/auth/oidc`);
      expect(info.statusCode).toBe(200);
      expect(info.data).toEqual({ enabled: false, name: null, login_url: null, local_login: true });
      for (const path of ['/auth/oidc/login', '/auth/oidc/callback?code=x&state=y']) {
        const res = await t.http.get(prefix + path);
        expect(res.statusCode, path).toBe(404);
        expect(res.data.code).toBe('not_found');
      }
    }
  });

  it('has no end-session URL for a password session; the route is for web sessions only', async () => {
    const res = await t.http.get('/api/auth/oidc/end-session', { as: user.session });
    expect(res.statusCode).toBe(200);
    expect(res.data).toEqual({ url: null });
    expect((await t.http.get('/api/auth/oidc/end-session')).statusCode).toBe(401);
    const key = await t.factory.key(user);
    const withKey = await t.http.get('/api/auth/oidc/end-session', { as: { key: key.key } });
    expect(withKey.statusCode).toBe(403);
    expect(withKey.data.code).toBe('session_required');
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = (await t.http.get('/api/openapi.json')).data as { paths: Record<string, Record<string, { operationId?: string }>> };
    expect(doc.paths['/api/auth/oidc']?.get?.operationId).toBe('oidcInfo');
    expect(doc.paths['/api/auth/oidc/login']?.get?.operationId).toBe('oidcLogin');
    expect(doc.paths['/api/auth/oidc/callback']?.get?.operationId).toBe('oidcCallback');
    expect(doc.paths['/api/auth/oidc/end-session']?.get?.operationId).toBe('oidcEndSession');
  });
});

describe('a portal with single sign-on whose provider is down, and passwords off', () => {
  let t: TestPortal;
  beforeAll(async () => {
    t = await buildTestApp({
      SIMPLEVM_OIDC_ISSUER: `http://127.0.0.1:${await deadPort()}`,
      SIMPLEVM_OIDC_CLIENT_ID: 'simplevm',
      SIMPLEVM_OIDC_CLIENT_SECRET: 'secret',
      SIMPLEVM_OIDC_REDIRECT_URL: 'http://127.0.0.1:8000/api/auth/oidc/callback',
      SIMPLEVM_OIDC_NAME: 'Campus login',
      SIMPLEVM_LOCAL_LOGIN: 'false',
      // A refused password login is not a failed authentication: it must never reach this limit.
      SIMPLEVM_AUTH_FAIL_LIMIT: '2',
    });
  });
  afterAll(() => t.close());

  it('refuses every password login with 403 permission_denied, JSON or form, without counting it as a failure', async () => {
    await t.factory.project(); // a database with something in it
    for (const form of [false, true, false, true]) {
      const res = await t.http.post('/api/auth/login', { body: { username: 'admin', password: 'whatever' }, form });
      expect(res.statusCode).toBe(403);
      expect(res.data).toEqual({ code: 'permission_denied', detail: 'Password login is switched off on this portal; log in with Campus login.' });
      expect(res.cookies).toEqual([]);
    }
    expect((await t.http.get('/api/auth/oidc')).data).toEqual({ enabled: true, name: 'Campus login', login_url: '/api/auth/oidc/login', local_login: false });
  });

  it('sends the browser back to the login page when the provider cannot be reached, keeping only a safe return path', async () => {
    const res = await t.http.get('/api/auth/oidc/login?next=%2Fvolumes%3Fproject%3D2');
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('/login?error=provider_unavailable&next=%2Fvolumes%3Fproject%3D2');
    expect(res.cookies.map((c) => c.name)).not.toContain('simplevm_oidc');
    for (const next of ['https://evil.example/', '//evil.example', '/login', '/.//evil.example', '/vms/../login']) {
      const other = await t.http.get(`/api/auth/oidc/login?next=${encodeURIComponent(next)}`);
      expect(other.headers.location, next).toBe('/login?error=provider_unavailable');
    }
    // A path beyond Latin-1 is kept percent-encoded, once: the login page's `next` is the path a browser would send.
    for (const next of ['/vms/€', '/vms/%E2%82%AC']) {
      const other = await t.http.get(`/api/auth/oidc/login?next=${encodeURIComponent(next)}`);
      expect(other.statusCode, next).toBe(302);
      expect(other.headers.location, next).toBe(`/login?error=provider_unavailable&next=${encodeURIComponent('/vms/%E2%82%AC')}`);
    }
  });

  it('answers every callback with a redirect to the login page and the reason, never an error page', async () => {
    const cases: [string, Record<string, string>, string][] = [
      ['?error=access_denied&error_description=User+cancelled&state=x', {}, 'access_denied'],
      ['?error=server_error', {}, 'login_failed'],
      ['?code=abc&state=xyz', {}, 'invalid_state'],
      ['', {}, 'invalid_state'],
      ['?code=abc&state=xyz', { cookie: 'simplevm_oidc=not-base64-json' }, 'invalid_state'],
      ['?code=abc&state=xyz', { cookie: `simplevm_oidc=${Buffer.from(JSON.stringify({ state: 'xyz' })).toString('base64url')}` }, 'invalid_state'],
      ['?code=a&state=%ff%fe&state=b', {}, 'invalid_state'],
      [`?code=${'c'.repeat(5000)}&state=${'s'.repeat(5000)}`, {}, 'invalid_state'],
      ['?state[]=x&code[a]=1', {}, 'invalid_state'],
    ];
    for (const [query, headers, reason] of cases) {
      const res = await t.http.get(`/api/auth/oidc/callback${query}`, { headers });
      expect(res.statusCode, query.slice(0, 60)).toBe(302);
      expect(res.headers.location, query.slice(0, 60)).toBe(`/login?error=${reason}`);
      expect(res.cookies.map((c) => c.name)).not.toContain('simplevm_session');
    }
  });

  it('refuses a pending login whose time is up, and one whose state does not match; both spend it', async () => {
    const pending = (state: string, exp: number) =>
      `simplevm_oidc=${Buffer.from(JSON.stringify({ state, nonce: 'n', verifier: 'v', next: '/vms', exp })).toString('base64url')}`;
    const now = Math.floor(Date.now() / 1000);
    const expired = await t.http.get('/api/auth/oidc/callback?code=abc&state=s1', { headers: { cookie: pending('s1', now - 1) } });
    expect(expired.headers.location).toBe('/login?error=invalid_state&next=%2Fvms');
    const mismatch = await t.http.get('/api/auth/oidc/callback?code=abc&state=s2', { headers: { cookie: pending('s1', now + 600) } });
    expect(mismatch.headers.location).toBe('/login?error=invalid_state&next=%2Fvms');
    const spent = mismatch.cookies.find((c) => c.name === 'simplevm_oidc');
    expect(spent?.value).toBe('');
    expect(spent?.path).toBe('/api/auth/oidc/callback');
    // Matching state, but the provider is down for the code exchange.
    const down = await t.http.get('/api/auth/oidc/callback?code=abc&state=s3', { headers: { cookie: pending('s3', now + 600) } });
    expect(down.headers.location).toBe('/login?error=provider_unavailable&next=%2Fvms');
  });

  it('checks and encodes the return path a pending login carries, as the login does', async () => {
    const pending = (next: string) =>
      `simplevm_oidc=${Buffer.from(JSON.stringify({ state: 's', nonce: 'n', verifier: 'v', next, exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url')}`;
    const cases: [string, string][] = [
      ['/vms/€', `&next=${encodeURIComponent('/vms/%E2%82%AC')}`],
      ['/.//evil.example', ''],
      ['/vms/../api/keys', ''],
    ];
    for (const [next, query] of cases) {
      const res = await t.http.get('/api/auth/oidc/callback?code=abc&state=other', { headers: { cookie: pending(next) } });
      expect(res.statusCode, next).toBe(302);
      expect(res.headers.location, next).toBe(`/login?error=invalid_state${query}`);
    }
  });

  it('records refused logins in the audit log', async () => {
    const events = await t.ctx.db.kysely.selectFrom('audit_events').select(['action', 'actor', 'outcome']).where('action', '=', 'login_failed').execute();
    expect(events.length).toBeGreaterThan(5);
    expect(events.every((e) => e.actor === null && e.outcome === 'failure')).toBe(true);
  });
});

describe('a portal with single sign-on, signed in to at a real provider', () => {
  const accounts = new Map<string, Record<string, unknown>>();
  // Nothing listens there: the test carries the provider's answer to the portal with inject().
  const portalBase = 'http://127.0.0.1:8000';
  let idp: TestProvider;
  let t: TestPortal;
  beforeAll(async () => {
    idp = await startProvider(portalBase, accounts, 'Test IdP');
    t = await buildTestApp({
      SIMPLEVM_OIDC_ISSUER: idp.issuer,
      SIMPLEVM_OIDC_CLIENT_ID: CLIENT_ID,
      SIMPLEVM_OIDC_CLIENT_SECRET: CLIENT_SECRET,
      SIMPLEVM_OIDC_REDIRECT_URL: `${portalBase}/api/auth/oidc/callback`,
      SIMPLEVM_OIDC_SCOPES: 'openid profile email',
    });
  });
  afterAll(async () => {
    await t?.close();
    await idp?.close();
  });

  /** A whole login that starts at `/api/auth/oidc/login?next=…`: the portal's last answer, at its callback. */
  async function logIn(next: string, account: string) {
    accounts.set(account, { preferred_username: account });
    const start = await t.http.get(`/api/auth/oidc/login?next=${encodeURIComponent(next)}`);
    expect(start.statusCode, start.body).toBe(302);
    const pending = start.cookies.find((c) => c.name === 'simplevm_oidc');
    expect(pending, 'pending-login cookie').toBeDefined();
    const answer = await signInAtProvider(idp, start.headers.location as string, account);
    expect(answer.origin + answer.pathname).toBe(`${portalBase}/api/auth/oidc/callback`);
    return t.http.get(answer.pathname + answer.search, { headers: { cookie: `simplevm_oidc=${pending!.value}` } });
  }

  const long = (n: number, c: string) => `/vms/${c.repeat(n)}`;
  it.each([
    ['/vms/€', '/vms/%E2%82%AC'],
    ['/vms/%E2%82%AC', '/vms/%E2%82%AC'],
    ['/volumes?text=grüne wiese&page=2', '/volumes?text=gr%C3%BCne%20wiese&page=2'],
    ['/vms/\u{1F600}', '/vms/%F0%9F%98%80'],
    ['/profile', '/profile'],
    ['//evil.example', '/vms'],
    ['/\\evil.example', '/vms'],
    ['/.//evil.example', '/vms'],
    ['/vms/../login', '/vms'],
    ['https://evil.example/', '/vms'],
    ['/\u0000x', '/vms'],
    ['/vms/\r\nSet-Cookie: x=1', '/vms'],
    // Too long to come back to: the login still succeeds, at the default page.
    [long(1500, '€'), '/vms'],
    [long(3000, 'a'), '/vms'],
  ].map(([next, location]) => ({ shown: JSON.stringify(next).slice(1, -1).slice(0, 40), next, location })))('next=$shown: logged in, and sent to $location', async ({ next, location }) => {
    const res = await logIn(next, 'alice');
    expect(res.statusCode, res.body).toBe(302);
    expect(res.headers.location).toBe(location);
    expect(res.cookies.map((c) => c.name)).toContain('simplevm_session');
  });
});
