// Research environments (spec §9): the template catalogue (built in, or SIMPLEVM_RESENV_FILE), the
// images that come with one, and the portal as the authenticated reverse proxy at
// /resenv/{openstack_id}/… — through real HTTP and real WebSockets against a stand-in environment on
// 127.0.0.1 (test/resenv-backend.ts), which records what reached it.
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/server/config.js';
import { BUILT_IN_TEMPLATES, resenvCatalogue } from '../src/server/modules/resenv/resenv.catalogue.js';
import { portalLocation, portalSetCookie, upstreamRequestHeaders, withoutPortalCookies } from '../src/server/modules/resenv/resenv.proxy.js';
import { pathPrefixOf } from '../src/server/modules/resenv/resenv.service.js';
import { listen } from './browser/browser.js';
import { type TestPortal, type TestUser, buildTestApp, unique } from './helpers.js';
import { runCli, tempDir } from './process.js';
import { type Backend, startBackend, tryWebSocket } from './resenv-backend.js';

const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

let backend: Backend;
let dir: { dir: string; remove: () => void };
let t: TestPortal;
let base: string;
let wsBase: string;
let owner: TestUser;
let m2: TestUser;
let admin: TestUser;
let outsider: TestUser;
let su: TestUser;
let project: { id: number };
/** owner's VM with the environment at user path /lab/. */
let vm: string;
/** owner's VM with the environment at the root (user path null: /). */
let vmRoot: string;
/** owner's VM without an environment. */
let vmPlain: string;
/** owner's VM with an environment, stopped. */
let vmStopped: string;
/** owner's VM whose environment does not listen. */
let vmDown: string;

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}


/** Each request and upgrade the stand-in environment gets from now on. */
function watchBackend() {
  const requests = backend.requests.length;
  const upgrades = backend.upgrades.length;
  return { requests: () => backend.requests.slice(requests), upgrades: () => backend.upgrades.slice(upgrades) };
}

const cookieOf = (u: TestUser) => u.session.cookie;

async function get(url: string, headers: Record<string, string> = {}) {
  return fetch(`${base}${url}`, { headers, redirect: 'manual' });
}

async function expectNotFound(res: Response) {
  expect(res.status).toBe(404);
  expect(await res.json()).toEqual({ detail: expect.any(String), code: 'not_found' });
}

beforeAll(async () => {
  backend = await startBackend();
  dir = tempDir('simplevm-resenv-');
  const file = path.join(dir.dir, 'resenv.json');
  fs.writeFileSync(file, JSON.stringify([
    { template: 'testenv', title: 'Test environment', description: 'A page and a WebSocket echo.', port: backend.port, image_tag: 'rstudio' },
    { template: 'jupyterlab', title: 'JupyterLab', description: 'Notebooks.', port: 8888, image_tag: 'jupyterlab' },
    { template: 'silent', title: 'Silent', description: 'Listens nowhere.', port: await closedPort(), image_tag: 'resenv-silent' },
  ]));
  // The simulated cloud gives every VM the address of the stand-in environment's server.
  t = await buildTestApp({ SIMPLEVM_RESENV_FILE: file }, { simFixedIp: '127.0.0.1' });
  base = await listen(t);
  wsBase = base.replace(/^http/, 'ws');
  [owner, m2, admin, outsider, su] = await Promise.all([t.factory.user(), t.factory.user(), t.factory.user(), t.factory.user(), t.factory.user({ superuser: true })]);
  project = await t.factory.project({ members: [owner, m2], admins: [admin] });
  await t.factory.project({ members: [outsider] });
  // Made as a user makes them: POST /api/vms/ with research_environment_backend.
  const make = async (backend?: Record<string, unknown>) => {
    const res = await t.http.post('/api/vms/', {
      as: owner.session,
      body: { project_id: project.id, image_name: 'Ubuntu-24.04-RStudio', flavor_name: 'de.NBI tiny', vm_name: unique('vm'), ...(backend ? { research_environment_backend: backend } : {}) },
    });
    expect(res.statusCode, res.body).toBe(201);
    return (await t.factory.waitFor(owner, `/api/vms/${res.data.openstack_id}/`, (d) => d.status === 'ACTIVE')).openstack_id as string;
  };
  [vm, vmRoot, vmPlain, vmStopped, vmDown] = await Promise.all([
    make({ template: 'testenv', user_path: 'lab', create_only: true }),
    make({ template: 'testenv' }),
    make(),
    make({ template: 'testenv', user_path: '/' }),
    make({ template: 'silent' }),
  ]);
  expect((await t.http.get(`/api/vms/${vm}/`, { as: owner.session })).data.fixed_ip).toBe('127.0.0.1');
  await t.http.post(`/api/vms/${vmStopped}/action/`, { as: owner.session, body: { os_action: 'stop' } });
  await t.factory.waitFor(owner, `/api/vms/${vmStopped}/`, (d) => d.status === 'SHUTOFF' && d.task_state === null);
}, 60_000);

afterAll(async () => {
  await t?.close();
  await backend?.close();
  dir?.remove();
});

describe('GET /api/research-environments/', () => {
  it('lists the templates of SIMPLEVM_RESENV_FILE to a session and to any key, under both prefixes', async () => {
    const key = await t.factory.key(owner, { scopes: ['volume:read'] });
    for (const as of [owner.session, { key: key.key }, { bearer: key.key }]) {
      for (const url of ['/api/research-environments/', '/api/research-environments', '/portal/api/research-environments/']) {
        const res = await t.http.get(url, { as });
        expect(res.statusCode, url).toBe(200);
        expect(res.data.map((e: { template: string }) => e.template)).toEqual(['testenv', 'jupyterlab', 'silent']);
        expect(res.data[0]).toEqual({ template: 'testenv', title: 'Test environment', description: 'A page and a WebSocket echo.', port: backend.port, image_tag: 'rstudio' });
      }
    }
    const anonymous = await t.http.get('/api/research-environments/');
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.data.code).toBe('not_authenticated');
  });

  it('is documented in the OpenAPI document; the proxy is not', async () => {
    const doc = (await t.http.get('/api/openapi.json')).data as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/api/research-environments');
    expect(Object.keys(doc.paths).filter((p) => p.includes('resenv'))).toEqual([]);
  });

  it('lists the built-in templates when no file is set, images tagged for one name it', async () => {
    const plain = await buildTestApp({}, { worker: false });
    try {
      const user = await plain.factory.user();
      const p = await plain.factory.project({ members: [user] });
      const list = (await plain.http.get('/api/research-environments/', { as: user.session })).data as { template: string; port: number; title: string; image_tag: string }[];
      expect(list.map((e) => [e.template, e.port, e.title])).toEqual([
        ['rstudio', 8787, 'RStudio'], ['jupyterlab', 8888, 'JupyterLab'], ['theia', 8080, 'Theia IDE'], ['theiaide', 8080, 'Theia IDE'], ['vscode', 8080, 'VS Code'], ['guacamole', 8080, 'Guacamole'],
      ]);
      expect(list.map((e) => e.image_tag)).toEqual(['rstudio', 'jupyterlab', 'theia', 'theiaide', 'vscode', 'guacamole']);
      const images = (await plain.http.get(`/api/projects/${p.id}/images/`, { as: user.session })).data as { name: string; resenv_template_name: string | null }[];
      const byName = Object.fromEntries(images.map((i) => [i.name, i.resenv_template_name]));
      expect(byName).toMatchObject({ 'Ubuntu-24.04-RStudio': 'rstudio', 'Ubuntu-24.04-JupyterLab': 'jupyterlab', 'Ubuntu-22.04': null, 'Debian-12': null });
    } finally {
      await plain.close();
    }
  });
});

describe('images with a research environment', () => {
  it('name the template whose image_tag they carry (the file\'s templates here); others and snapshots show null', async () => {
    const res = await t.http.get(`/api/projects/${project.id}/images/`, { as: owner.session });
    expect(res.statusCode).toBe(200);
    const images = res.data as { name: string; tags: string[]; resenv_template_name: string | null }[];
    expect(images.find((i) => i.name === 'Ubuntu-24.04-RStudio')).toEqual({ name: 'Ubuntu-24.04-RStudio', tags: ['noble', 'rstudio', 'ubuntu'], resenv_template_name: 'testenv' });
    expect(images.find((i) => i.name === 'Ubuntu-24.04-JupyterLab')?.resenv_template_name).toBe('jupyterlab');
    for (const i of images.filter((i) => !i.name.includes('-RStudio') && !i.name.includes('-JupyterLab'))) expect(i.resenv_template_name, i.name).toBeNull();
  });
});

describe('the proxy at /resenv/{openstack_id}/', () => {
  it('gives the owner\'s session the environment\'s page, without the portal\'s credentials reaching the VM', async () => {
    const seen = watchBackend();
    const res = await get(`/resenv/${vm}/`, { accept: HTML, cookie: `${cookieOf(owner)}; env_token=abc`, 'x-csrf-token': owner.session.csrf });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-backend')).toBe('yes');
    expect(await res.text()).toContain('Research environment at /lab/');
    const [request] = seen.requests();
    expect(seen.requests()).toHaveLength(1);
    expect(request.url).toBe('/lab/');
    expect(request.headers.cookie).toBe('env_token=abc');
    for (const name of ['x-csrf-token', 'authorization', 'x-api-key']) expect(request.headers[name], name).toBeUndefined();
    expect(JSON.stringify(request.headers)).not.toContain(owner.session.cookie.split('=')[1]);
    expect(JSON.stringify(request.headers)).not.toContain(owner.session.csrf);
    expect(request.headers).toMatchObject({ 'x-forwarded-prefix': `/resenv/${vm}`, 'x-forwarded-proto': 'http', 'x-forwarded-for': '127.0.0.1' });
  });

  it('keeps nosniff and forbids framing by other sites, but lets the environment run its own scripts', async () => {
    const res = await get(`/resenv/${vm}/`, { accept: HTML, cookie: cookieOf(owner) });
    expect(res.headers.get('content-security-policy')).toBe("frame-ancestors 'self'");
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    // The environment's own policy stays, and the frame rule is added to it.
    const own = await get(`/resenv/${vm}/csp`, { cookie: cookieOf(owner) });
    expect(own.headers.get('content-security-policy')).toBe("default-src 'self' 'unsafe-inline', frame-ancestors 'self'");
    // The proxy's refusals are the portal's answers, with its headers.
    const refused = await get(`/resenv/${vmPlain}/`, { cookie: cookieOf(owner) });
    expect(refused.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(refused.headers.get('x-frame-options')).toBe('DENY');
  });

  it('forwards paths, queries and bodies as they came, under the VM\'s user path', async () => {
    const seen = watchBackend();
    const query = await (await get(`/resenv/${vm}/sub/echo?a=1&b=two`, { cookie: cookieOf(owner) })).json();
    expect(query).toMatchObject({ method: 'GET', url: '/lab/sub/echo?a=1&b=two' });
    const headers = { cookie: cookieOf(owner), 'x-csrf-token': owner.session.csrf };
    const form = await fetch(`${base}/resenv/${vm}/echo`, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: 'x=1&y=%C3%A9' });
    expect(await form.json()).toMatchObject({ method: 'POST', contentType: 'application/x-www-form-urlencoded', body: 'x=1&y=%C3%A9' });
    const json = await fetch(`${base}/resenv/${vm}/echo`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/json' }, body: '{"a": [1, 2]}' });
    expect(await json.json()).toMatchObject({ method: 'PUT', contentType: 'application/json', body: '{"a": [1, 2]}' });
    // Larger than the API's body limit, in a type the API refuses: an upload to the environment.
    const big = 'z'.repeat(600 * 1024);
    const upload = await fetch(`${base}/resenv/${vm}/echo`, { method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: big });
    expect(upload.status).toBe(200);
    expect((await upload.json()).body).toHaveLength(big.length);
    // No CSRF token is needed: the environment has its own, and the portal's never reaches it.
    const bare = await fetch(`${base}/resenv/${vm}/echo`, { method: 'POST', headers: { cookie: cookieOf(owner), 'content-type': 'text/plain' }, body: 'plain' });
    expect(await bare.json()).toMatchObject({ body: 'plain', contentType: 'text/plain' });
    expect(seen.requests().map((r) => r.url)).toEqual(['/lab/sub/echo?a=1&b=two', '/lab/echo', '/lab/echo', '/lab/echo', '/lab/echo']);
    for (const r of seen.requests()) expect(r.headers['x-csrf-token']).toBeUndefined();
  });

  it('serves a VM whose user path is / at the root, and sends the bare address on to the one with the slash', async () => {
    const seen = watchBackend();
    const res = await get(`/resenv/${vmRoot}/a/b?c=d`, { cookie: cookieOf(owner) });
    expect(res.status).toBe(200);
    expect(seen.requests().map((r) => r.url)).toEqual(['/a/b?c=d']);
    const bare = await get(`/resenv/${vm}?x=1`, { accept: HTML, cookie: cookieOf(owner) });
    expect(bare.status).toBe(302);
    expect(bare.headers.get('location')).toBe(`/resenv/${vm}/?x=1`);
    expect(seen.requests()).toHaveLength(1);
  });

  it('moves the environment\'s redirects and cookies under /resenv/{openstack_id}/, and drops cookies named like the portal\'s', async () => {
    const relative = await get(`/resenv/${vm}/x/redirect`, { cookie: cookieOf(owner) });
    expect(relative.status).toBe(302);
    expect(relative.headers.get('location')).toBe(`/resenv/${vm}/x/landed`);
    const absolute = await get(`/resenv/${vm}/x/redirect?absolute=1`, { cookie: cookieOf(owner) });
    expect(absolute.headers.get('location')).toBe(`/resenv/${vm}/x/landed`);
    const cookies = (await get(`/resenv/${vm}/cookies`, { cookie: cookieOf(owner) })).headers.getSetCookie();
    expect(cookies).toEqual([`env_token=abc; Path=/resenv/${vm}/; HttpOnly`, 'other=1']);
  });

  it('lets the owner\'s session through a WebSocket, without the portal\'s credentials', async () => {
    const seen = watchBackend();
    const outcome = await tryWebSocket(`${wsBase}/resenv/${vm}/socket?room=1`, { cookie: `${cookieOf(owner)}; env_token=abc`, 'x-csrf-token': owner.session.csrf }, 'ping');
    expect(outcome).toEqual({ opened: true, reply: 'echo:ping' });
    const [upgrade] = seen.upgrades();
    expect(seen.upgrades()).toHaveLength(1);
    expect(upgrade.url).toBe('/lab/socket?room=1');
    expect(upgrade.headers.cookie).toBe('env_token=abc');
    for (const name of ['x-csrf-token', 'authorization', 'x-api-key']) expect(upgrade.headers[name], name).toBeUndefined();
    expect(JSON.stringify(upgrade.headers)).not.toContain(owner.session.cookie.split('=')[1]);
    expect(upgrade.headers['x-forwarded-prefix']).toBe(`/resenv/${vm}`);
  });

  it('lets the project\'s admin and a superuser in, as the VM API does', async () => {
    for (const user of [admin, su]) {
      expect((await get(`/resenv/${vm}/`, { cookie: cookieOf(user) })).status).toBe(200);
      expect(await tryWebSocket(`${wsBase}/resenv/${vm}/socket`, { cookie: cookieOf(user) })).toEqual({ opened: true, reply: 'echo:hi' });
    }
  });

  it('answers another member and an outsider 404, over HTTP and WebSocket, and nothing reaches the VM', async () => {
    const seen = watchBackend();
    for (const user of [m2, outsider]) {
      await expectNotFound(await get(`/resenv/${vm}/`, { accept: HTML, cookie: cookieOf(user) }));
      await expectNotFound(await fetch(`${base}/resenv/${vm}/echo`, { method: 'POST', headers: { cookie: cookieOf(user), 'x-csrf-token': user.session.csrf }, body: 'x' }));
      expect(await tryWebSocket(`${wsBase}/resenv/${vm}/socket`, { cookie: cookieOf(user) })).toEqual({ opened: false, status: 404 });
      // Their session cookie next to the owner's environment cookie changes nothing.
      expect(await tryWebSocket(`${wsBase}/resenv/${vm}/socket`, { cookie: `env_token=abc; ${cookieOf(user)}` })).toEqual({ opened: false, status: 404 });
    }
    expect(seen.requests()).toEqual([]);
    expect(seen.upgrades()).toEqual([]);
  });

  it('answers an API key 404, even the owner\'s with vm:read and with the session cookie beside it', async () => {
    const key = (await t.factory.key(owner, { scopes: ['vm:read'], own_objects_only: true })).key;
    const suKey = (await t.factory.key(su, { own_objects_only: false })).key;
    const seen = watchBackend();
    for (const k of [key, suKey]) {
      const variants: Record<string, string>[] = [{ 'x-api-key': k }, { authorization: `Bearer ${k}` }, { 'x-api-key': k, cookie: cookieOf(owner) }, { authorization: `Bearer ${k}`, cookie: cookieOf(owner), accept: HTML }];
      for (const headers of variants) {
        await expectNotFound(await get(`/resenv/${vm}/`, headers));
        expect(await tryWebSocket(`${wsBase}/resenv/${vm}/socket`, headers)).toEqual({ opened: false, status: 404 });
      }
    }
    // Any Authorization header is a credential the portal will not pass on.
    await expectNotFound(await get(`/resenv/${vm}/`, { authorization: 'Basic dXNlcjpwdw==', cookie: cookieOf(owner) }));
    expect(seen.requests()).toEqual([]);
    expect(seen.upgrades()).toEqual([]);
  });

  it('sends a browser without a session to the login page and back; anything else without one gets 404', async () => {
    const seen = watchBackend();
    for (const cookie of [undefined, 'simplevm_session=not-a-session', 'env_token=abc']) {
      const headers: Record<string, string> = cookie ? { cookie } : {};
      const page = await get(`/resenv/${vm}/sub/page?x=1&y=2`, { ...headers, accept: HTML });
      expect(page.status).toBe(302);
      expect(page.headers.get('location')).toBe(`/login?next=${encodeURIComponent(`/resenv/${vm}/sub/page?x=1&y=2`)}`);
      expect(page.headers.get('cache-control')).toBe('no-store');
      await expectNotFound(await get(`/resenv/${vm}/`, headers));
      await expectNotFound(await get(`/resenv/${vm}/data.json`, { ...headers, accept: 'application/json' }));
      await expectNotFound(await fetch(`${base}/resenv/${vm}/echo`, { method: 'POST', headers: { ...headers, accept: HTML }, body: 'x' }));
      expect(await tryWebSocket(`${wsBase}/resenv/${vm}/socket`, headers)).toEqual({ opened: false, status: 404 });
    }
    // No such VM, even for a browser: the login page, which tells nothing about the VM.
    expect((await get(`/resenv/${unique('nope')}/`, { accept: HTML })).status).toBe(302);
    expect(seen.requests()).toEqual([]);
    expect(seen.upgrades()).toEqual([]);
  });

  it('answers 404 for no such VM, a VM without an environment, one not ACTIVE, and an id that cannot be one', async () => {
    const seen = watchBackend();
    for (const id of [unique('nope'), vmPlain, vmStopped, 'x'.repeat(65), 'x'.repeat(300), '%00']) {
      await expectNotFound(await get(`/resenv/${id}/`, { accept: HTML, cookie: cookieOf(owner) }));
      await expectNotFound(await get(`/resenv/${id}/`, { accept: HTML, cookie: cookieOf(su) }));
      expect(await tryWebSocket(`${wsBase}/resenv/${id}/socket`, { cookie: cookieOf(owner) })).toEqual({ opened: false, status: 404 });
    }
    expect(seen.requests()).toEqual([]);
    expect(seen.upgrades()).toEqual([]);
  });

  it('refuses a WebSocket and a form from another site\'s page, even with the owner\'s cookie', async () => {
    const seen = watchBackend();
    const evil = { cookie: cookieOf(owner), origin: 'http://evil.example' };
    expect(await tryWebSocket(`${wsBase}/resenv/${vm}/socket`, evil)).toEqual({ opened: false, status: 404 });
    await expectNotFound(await fetch(`${base}/resenv/${vm}/echo`, { method: 'POST', headers: evil, body: 'x' }));
    // From the portal's own origin, both are fine.
    expect((await tryWebSocket(`${wsBase}/resenv/${vm}/socket`, { ...evil, origin: base })).opened).toBe(true);
    expect(seen.upgrades()).toHaveLength(1);
    expect(seen.requests()).toEqual([]);
  });

  it('answers 503 unavailable while the environment does not listen', async () => {
    const res = await get(`/resenv/${vmDown}/`, { accept: HTML, cookie: cookieOf(owner) });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('30');
    expect(await res.json()).toMatchObject({ code: 'unavailable' });
  });

  it('stops answering once the VM is stopped, and once the session ends', async () => {
    const session = await t.factory.login(owner.username);
    expect((await get(`/resenv/${vmRoot}/`, { cookie: session.cookie })).status).toBe(200);
    const act = async (os_action: string, status: string) => {
      await t.http.post(`/api/vms/${vmRoot}/action/`, { as: owner.session, body: { os_action } });
      await t.factory.waitFor(owner, `/api/vms/${vmRoot}/`, (d) => d.status === status && d.task_state === null);
    };
    await act('stop', 'SHUTOFF');
    await expectNotFound(await get(`/resenv/${vmRoot}/`, { cookie: session.cookie }));
    await act('resume', 'ACTIVE');
    expect((await get(`/resenv/${vmRoot}/`, { cookie: session.cookie })).status).toBe(200);
    expect((await t.http.post('/api/auth/logout', { as: session })).statusCode).toBe(204);
    await expectNotFound(await get(`/resenv/${vmRoot}/`, { cookie: session.cookie }));
    expect(await tryWebSocket(`${wsBase}/resenv/${vmRoot}/socket`, { cookie: session.cookie })).toEqual({ opened: false, status: 404 });
  });
});

describe('the proxy\'s rules', () => {
  const target = { origin: 'http://10.0.0.7:8787', pathPrefix: '/lab', mount: '/resenv/abc' };

  it('strips the portal\'s cookies and credentials from what goes to the VM', () => {
    expect(withoutPortalCookies('simplevm_session=s; a=1; SIMPLEVM_OIDC=x;b=2')).toBe('a=1; b=2');
    expect(withoutPortalCookies('simplevm_session=s')).toBeUndefined();
    const out = upstreamRequestHeaders(
      { cookie: 'simplevm_session=s; a=1', authorization: 'Bearer x', 'x-api-key': 'k', 'x-csrf-token': 'c', 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6', accept: 'text/html' },
      { clientIp: '10.1.1.1', proto: 'https', host: 'portal.example', prefix: '/resenv/abc' },
    );
    expect(out).toEqual({
      accept: 'text/html', cookie: 'a=1', 'x-forwarded-for': '10.1.1.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'portal.example', 'x-forwarded-prefix': '/resenv/abc',
    });
  });

  it('moves redirects and cookie paths within the user path under the mount, and leaves others be', () => {
    expect(portalLocation('/lab/x?y=1', target)).toBe('/resenv/abc/x?y=1');
    expect(portalLocation('/lab', target)).toBe('/resenv/abc/');
    expect(portalLocation('http://10.0.0.7:8787/lab/auth', target)).toBe('/resenv/abc/auth');
    expect(portalLocation('https://login.example/auth', target)).toBe('https://login.example/auth');
    expect(portalLocation('relative/path', target)).toBe('relative/path');
    expect(portalLocation('/labs', target)).toBe('/labs');
    expect(portalLocation('//evil.example/lab/x', target)).toBe('//evil.example/lab/x');
    expect(portalSetCookie('a=1; Path=/; Domain=10.0.0.7; Secure', target)).toBe('a=1; Path=/resenv/abc/; Secure');
    expect(portalSetCookie('a=1; path=/lab/sub', target)).toBe('a=1; Path=/resenv/abc/sub');
    expect(portalSetCookie('simplevm_session=x; Path=/', target)).toBeNull();
    expect(portalSetCookie('a=1', target)).toBe('a=1');
  });

  it('takes a user path as the VM API stores it, and nothing else', () => {
    expect(pathPrefixOf(null)).toBe('');
    expect(pathPrefixOf('/')).toBe('');
    expect(pathPrefixOf('/rstudio/')).toBe('/rstudio');
    expect(pathPrefixOf('/a/b.c~d_e-f/')).toBe('/a/b.c~d_e-f');
    for (const bad of ['/../', '/a/./', '/a b/', '/a$&/', '/a?b/', '/%2e%2e/']) expect(pathPrefixOf(bad), bad).toBeNull();
  });
});

describe('SIMPLEVM_RESENV_FILE', () => {
  it('is checked when the app is built: a missing or invalid file is a ConfigError of one line', () => {
    const bad = (name: string, text: string | null) => {
      const file = path.join(dir.dir, name);
      if (text !== null) fs.writeFileSync(file, text);
      try {
        resenvCatalogue({ resenvFile: file });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        const message = (err as Error).message;
        expect(message.split('\n')).toHaveLength(1);
        expect(message).toContain(`SIMPLEVM_RESENV_FILE (${file})`);
        return message;
      }
      throw new Error(`${name} was accepted`);
    };
    expect(bad('missing.json', null)).toMatch(/no such file/);
    expect(bad('broken.json', '[{"template": ')).toMatch(/not valid JSON/);
    expect(bad('object.json', '{"template": "x"}')).toMatch(/must be a JSON array/);
    const entry = { template: 'ok', title: 'OK', description: '', port: 80, image_tag: 'resenv-ok' };
    expect(bad('port.json', JSON.stringify([{ ...entry, port: 70000 }]))).toMatch(/entry 1: port 70000 is not a port number/);
    expect(bad('port0.json', JSON.stringify([{ ...entry, port: 0 }]))).toMatch(/port 0 is not a port number/);
    expect(bad('name.json', JSON.stringify([entry, { ...entry, template: 'Not Ok', image_tag: 'other' }]))).toMatch(/entry 2: "Not Ok" is not a template name/);
    expect(bad('long.json', JSON.stringify([{ ...entry, template: `a${'b'.repeat(63)}` }]))).toMatch(/is not a template name/);
    expect(bad('twice.json', JSON.stringify([entry, { ...entry, image_tag: 'other' }]))).toMatch(/entry 2: template "ok" appears twice/);
    expect(bad('tagtwice.json', JSON.stringify([entry, { ...entry, template: 'other' }]))).toMatch(/image_tag "resenv-ok" appears twice/);
    expect(bad('missing-field.json', JSON.stringify([{ template: 'a', title: 'A', description: '', image_tag: 'x' }]))).toMatch(/"port" is missing/);
    expect(bad('extra.json', JSON.stringify([{ ...entry, url: 'x' }]))).toMatch(/"url" is not a field of a template/);
    // A good file is read once: the built-in list is not consulted, and an empty list means none.
    const good = path.join(dir.dir, 'good.json');
    fs.writeFileSync(good, JSON.stringify([{ ...entry, template: 'a-b_1' }]));
    expect(resenvCatalogue({ resenvFile: good }).map((e) => e.template)).toEqual(['a-b_1']);
    const none = path.join(dir.dir, 'none.json');
    fs.writeFileSync(none, '[]');
    expect(resenvCatalogue({ resenvFile: none })).toEqual([]);
    expect(resenvCatalogue({ resenvFile: null })).toBe(BUILT_IN_TEMPLATES);
  });

  it('stops `simplevm serve` at start with one line naming the file and what is wrong', async () => {
    const file = path.join(dir.dir, 'serve-bad.json');
    fs.writeFileSync(file, JSON.stringify([{ template: 'x', title: 'X', description: '', port: 'eighty', image_tag: 'x' }]));
    const r = await runCli(['serve'], {
      env: { DATABASE_URL: path.join(dir.dir, 'serve.sqlite'), SIMPLEVM_PORT: '0', SIMPLEVM_LOG_LEVEL: 'silent', SIMPLEVM_RESENV_FILE: file },
    });
    expect(r.code).toBe(78);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`SIMPLEVM_RESENV_FILE (${file}): entry 1: port "eighty" is not a port number`);
  }, 60_000);
});
