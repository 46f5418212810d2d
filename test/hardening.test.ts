// Hardening (issue 7): security headers and CSP, cookie flags, HTTPS behind a trusted proxy,
// request body limit, request ids, and bounded strings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, buildTestApp } from './helpers.js';

let t: TestPortal;
let proxied: TestPortal;
beforeAll(async () => {
  t = await buildTestApp();
  proxied = await buildTestApp({ SIMPLEVM_TRUST_PROXY: '1' });
});
afterAll(async () => {
  await t.close();
  await proxied.close();
});

describe('hardening', () => {
  it('sends security headers on every answer, a CSP on pages, and a request id', async () => {
    for (const url of ['/api/vms/', '/healthz', '/', '/api/nope']) {
      const res = await t.http.get(url);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('same-origin');
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    const page = await t.http.get('/');
    expect(String(page.headers['content-type'])).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  });

  it('sends helmet\'s full set on every answer, the router\'s own errors included, and no HSTS', async () => {
    const { securityHeaders } = await import('../src/server/http/security-headers.js');
    const expected = securityHeaders({ frameguard: { action: 'deny' } });
    for (const url of ['/healthz', '/api/vms/', `/api/vms/${'x'.repeat(300)}/`, '/', '/portal/api/docs/']) {
      const res = await t.http.get(url);
      for (const name of ['cross-origin-opener-policy', 'cross-origin-resource-policy', 'origin-agent-cluster', 'x-dns-prefetch-control', 'x-permitted-cross-domain-policies', 'x-xss-protection']) {
        expect([url, name, res.headers[name]]).toEqual([url, name, expected[name]]);
      }
      expect(res.headers['content-security-policy'], url).toContain("object-src 'none'");
      expect(res.headers['strict-transport-security'], url).toBeUndefined();
    }
  });

  it('makes the session cookie HttpOnly and SameSite=Lax, and Secure only behind HTTPS', async () => {
    const user = await t.factory.user();
    const plain = await t.http.post('/api/auth/login', { body: { username: user.username, password: 'correct horse battery staple' } });
    const cookie = String(plain.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).not.toMatch(/Secure/i);

    const other = await proxied.factory.user();
    const https = await proxied.http.post('/api/auth/login', {
      body: { username: other.username, password: 'correct horse battery staple' },
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(String(https.headers['set-cookie'])).toMatch(/Secure/i);
    // Without the trusted proxy setting, a forwarded header changes nothing.
    const spoofed = await t.http.post('/api/auth/login', {
      body: { username: user.username, password: 'correct horse battery staple' },
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(String(spoofed.headers['set-cookie'])).not.toMatch(/Secure/i);
  });

  it('refuses bodies over the limit with a JSON error and no change', async () => {
    const user = await t.factory.user();
    const project = await t.factory.project({ members: [user] });
    const res = await t.http.post('/api/volumes/', { as: user.session, body: { project_id: project.id, name: 'x'.repeat(300_000), storage: 1 } });
    expect(res.statusCode).toBe(413);
    expect(res.data).toMatchObject({ code: 'payload_too_large' });
    expect((await t.http.get('/api/volumes/', { as: user.session })).data.count).toBe(0);
  });

  it('bounds every string field', async () => {
    const user = await t.factory.user();
    const project = await t.factory.project({ members: [user] });
    const long = 'a'.repeat(5000);
    const cases: Array<[string, string, Record<string, unknown>]> = [
      ['POST', '/api/volumes/', { project_id: project.id, name: long, storage: 1 }],
      ['POST', '/api/vms/', { project_id: project.id, image_name: long, flavor_name: 'de.NBI tiny', vm_name: 'ok' }],
      ['POST', '/api/keys/', { name: long, scopes: ['vm:read'] }],
      ['POST', '/api/auth/login', { username: long, password: 'x' }],
    ];
    for (const [method, url, body] of cases) {
      const res = await t.http.request(method, url, { as: user.session, body });
      expect(res.statusCode, url).toBe(400);
      expect(res.data.code).toBe('invalid');
    }
    expect((await t.http.get(`/api/vms/?text=${long}`, { as: user.session })).statusCode).toBe(400);
  });
});

describe('logs', () => {
  it('keeps a key out of the log even when a client puts it in the URL', async () => {
    const { Writable } = await import('node:stream');
    const { createPortal } = await import('../src/server/portal.js');
    const { loadConfig } = await import('../src/server/config.js');
    const { generateKey } = await import('../src/server/auth/key-format.js');
    const lines: string[] = [];
    const stream = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const config = loadConfig({ DATABASE_URL: ':memory:', SIMPLEVM_LOG_LEVEL: 'debug', SIMPLEVM_RATE_LIMIT: '0', SIMPLEVM_AUTH_FAIL_LIMIT: '0' });
    const portal = await createPortal(config, { logStream: stream });
    try {
      const { key } = generateKey();
      await portal.app.inject({ method: 'GET', url: `/api/vms/?api_key=${key}`, headers: { 'x-api-key': key, authorization: `Bearer ${key}` } });
      const log = lines.join('');
      expect(log).toContain('/api/vms/?api_key=svm_');
      expect(log).not.toContain(key.slice(13));
    } finally {
      await portal.close();
    }
  });
});

describe('maskUrlSecrets', () => {
  it('hides the one-time code and state of a single sign-on callback, and keys', async () => {
    const { maskUrlSecrets } = await import('../src/server/app.js');
    expect(maskUrlSecrets('/api/auth/oidc/callback?code=abc123&state=xyz&iss=x')).toBe('/api/auth/oidc/callback?code=[redacted]&state=[redacted]&iss=x');
    expect(maskUrlSecrets('/api/vms/?page=2')).toBe('/api/vms/?page=2');
  });
});
