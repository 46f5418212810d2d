// Research environments on a host of their own (SIMPLEVM_RESENV_URL, spec §9): the portal listens
// on 127.0.0.1 and is told that environments live at http://localhost on the same port, two host
// names of one server and two origins to a browser. Real HTTP and WebSockets against the stand-in
// environment of test/resenv-backend.ts: the portal's host hands a session a one-time ticket, the
// environments' host turns it into a grant cookie and serves nothing but /resenv/…, and none of the
// portal's credentials (session cookie, ticket, grant cookie) ever reaches the VM.
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { maskUrlSecrets } from '../src/server/app.js';
import { sha256Hex } from '../src/server/auth/tokens.js';
import { insertResenvGrant } from '../src/server/modules/resenv/resenv.repository.js';
import { upstreamRequestHeaders } from '../src/server/modules/resenv/resenv.proxy.js';
import { nextPath } from '../src/server/modules/resenv/resenv.routes.js';
import { RESENV_TICKET_MS } from '../src/server/modules/resenv/resenv.service.js';
import { type TestPortal, type TestUser, buildTestApp, unique } from './helpers.js';
import { tempDir } from './process.js';
import { type Backend, startBackend, tryWebSocket } from './resenv-backend.js';

const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

let backend: Backend;
let dir: { dir: string; remove: () => void };
let t: TestPortal;
/** The portal's host: http://127.0.0.1:PORT. */
let portal: string;
/** The environments' host: http://localhost:PORT, the same server. */
let envs: string;
let owner: TestUser;
let m2: TestUser;
let admin: TestUser;
let su: TestUser;
/** owner's VM with the environment at user path /lab/. */
let vm: string;
/** owner's VM with the environment at the root. */
let vmRoot: string;
/** Every secret of the portal's that a test handled: none may reach the VM. */
const secrets: string[] = [];

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers, redirect: 'manual' });

async function expectNotFound(res: Response) {
  expect(res.status).toBe(404);
  expect(await res.json()).toEqual({ detail: expect.any(String), code: 'not_found' });
}

/** The ticket redirect the portal's host answers a session's visit to a VM's environment with. */
async function ticketFor(user: { cookie: string }, id: string, rest = ''): Promise<{ location: string; ticket: string }> {
  const res = await get(`${portal}/resenv/${id}/${rest}`, { accept: HTML, cookie: user.cookie });
  expect(res.status).toBe(302);
  const location = res.headers.get('location') ?? '';
  const ticket = new URL(location).searchParams.get('t') ?? '';
  secrets.push(ticket);
  return { location, ticket };
}

/** The grant cookie (`simplevm_resenv=…`) a ticket is redeemed for. */
async function grantFor(user: { cookie: string }, id: string): Promise<string> {
  const { location } = await ticketFor(user, id);
  const res = await get(location);
  expect(res.status).toBe(302);
  const cookie = res.headers.getSetCookie()[0].split(';')[0];
  secrets.push(cookie.split('=')[1]);
  return cookie;
}

/** Each request and upgrade the stand-in environment gets from now on. */
function watchBackend() {
  const requests = backend.requests.length;
  const upgrades = backend.upgrades.length;
  return { requests: () => backend.requests.slice(requests), upgrades: () => backend.upgrades.slice(upgrades) };
}

beforeAll(async () => {
  backend = await startBackend();
  dir = tempDir('simplevm-resenv-origin-');
  const file = path.join(dir.dir, 'resenv.json');
  fs.writeFileSync(file, JSON.stringify([
    { template: 'testenv', title: 'Test environment', description: 'A page and a WebSocket echo.', port: backend.port, image_tag: 'rstudio' },
  ]));
  const port = await freePort();
  portal = `http://127.0.0.1:${port}`;
  envs = `http://localhost:${port}`;
  t = await buildTestApp({ SIMPLEVM_RESENV_FILE: file, SIMPLEVM_PUBLIC_URL: portal, SIMPLEVM_RESENV_URL: envs }, { simFixedIp: '127.0.0.1' });
  await t.app.listen({ host: '127.0.0.1', port });
  [owner, m2, admin, su] = await Promise.all([t.factory.user(), t.factory.user(), t.factory.user(), t.factory.user({ superuser: true })]);
  for (const u of [owner, m2, admin, su]) secrets.push(u.session.cookie.split('=')[1], u.session.csrf);
  const project = await t.factory.project({ members: [owner, m2], admins: [admin] });
  const make = async (backend: Record<string, unknown>) => {
    const res = await t.http.post('/api/vms/', {
      as: owner.session,
      body: { project_id: project.id, image_name: 'Ubuntu-24.04-RStudio', flavor_name: 'de.NBI tiny', vm_name: unique('vm'), research_environment_backend: backend },
    });
    expect(res.statusCode, res.body).toBe(201);
    return (await t.factory.waitFor(owner, `/api/vms/${res.data.openstack_id}/`, (d) => d.status === 'ACTIVE')).openstack_id as string;
  };
  [vm, vmRoot] = await Promise.all([make({ template: 'testenv', user_path: 'lab' }), make({ template: 'testenv' })]);
}, 60_000);

afterAll(async () => {
  vi.useRealTimers();
  await t?.close();
  await backend?.close();
  dir?.remove();
});

describe('the handoff from the portal\'s host to the environments\' host', () => {
  it('gives the VM\'s link on the environments\' host', async () => {
    const shown = await t.http.get(`/api/vms/${vm}/`, { as: owner.session });
    expect(shown.data.access.research_environment).toEqual({ template: 'testenv', url: `${envs}/resenv/${vm}/` });
  });

  it('goes from the portal\'s host with a ticket to a grant cookie, then to the environment, over HTTP and WebSocket', async () => {
    const seen = watchBackend();
    // The VM's link, followed without a grant: to the portal's host, for a ticket.
    const first = await get(`${envs}/resenv/${vm}/sub/page?x=1`, { accept: HTML });
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toBe(`${portal}/resenv/${vm}/sub/page?x=1`);

    // The portal's host: a ticket, and the rest of the path to come back to.
    const handoff = await get(`${portal}/resenv/${vm}/sub/page?x=1`, { accept: HTML, cookie: owner.session.cookie });
    expect(handoff.status).toBe(302);
    expect(handoff.headers.get('cache-control')).toBe('no-store');
    const location = new URL(handoff.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(`${envs}/resenv/${vm}/__simplevm_ticket`);
    expect(location.searchParams.get('next')).toBe('sub/page?x=1');
    const ticket = location.searchParams.get('t') ?? '';
    secrets.push(ticket);
    expect(ticket).toMatch(/^[\w-]{43}$/);
    expect(handoff.headers.getSetCookie()).toEqual([]);
    // Only its digest is stored.
    const rows = await t.ctx.db.kysely.selectFrom('resenv_tickets').select(['digest', 'vm_openstack_id', 'created_at', 'expires_at', 'used_at']).execute();
    const row = rows.find((r) => r.digest === sha256Hex(ticket));
    expect(row).toMatchObject({ vm_openstack_id: vm, used_at: null });
    expect(Date.parse(row!.expires_at) - Date.parse(row!.created_at)).toBe(60_000);
    expect(JSON.stringify(rows)).not.toContain(ticket);

    // The environments' host: the ticket for a cookie of that VM's path, and on to where the browser was going.
    const redeemed = await get(location.href);
    expect(redeemed.status).toBe(302);
    expect(redeemed.headers.get('location')).toBe(`/resenv/${vm}/sub/page?x=1`);
    const [setCookie] = redeemed.headers.getSetCookie();
    expect(setCookie).toMatch(new RegExp(`^simplevm_resenv=[\\w-]{43}; Path=/resenv/${vm}/; Expires=[^;]+; HttpOnly; SameSite=Lax$`));
    const grant = setCookie.split(';')[0];
    secrets.push(grant.split('=')[1]);

    const page = await get(`${envs}/resenv/${vm}/sub/page?x=1`, { accept: HTML, cookie: `${grant}; env_token=abc` });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Research environment at /lab/sub/page?x=1');
    expect(page.headers.get('content-security-policy')).toBe("frame-ancestors 'self'");
    const outcome = await tryWebSocket(`${envs.replace('http', 'ws')}/resenv/${vm}/socket`, { cookie: `${grant}; env_token=abc`, origin: envs }, 'ping');
    expect(outcome).toEqual({ opened: true, reply: 'echo:ping' });

    expect(seen.requests().map((r) => r.url)).toEqual(['/lab/sub/page?x=1']);
    expect(seen.upgrades().map((r) => r.url)).toEqual(['/lab/socket']);
    for (const r of [...seen.requests(), ...seen.upgrades()]) {
      expect(r.headers.cookie).toBe('env_token=abc');
      expect(r.headers['x-forwarded-host']).toBe(new URL(envs).host);
    }
  });

  it('lets the project\'s admin and a superuser in the same way; another member gets 404 on the portal\'s host', async () => {
    for (const user of [admin, su]) {
      const grant = await grantFor(user.session, vm);
      expect((await get(`${envs}/resenv/${vm}/`, { cookie: grant })).status).toBe(200);
    }
    await expectNotFound(await get(`${portal}/resenv/${vm}/`, { accept: HTML, cookie: m2.session.cookie }));
  });

  it('sends a browser without a session on the portal\'s host to log in; anything else without one gets 404', async () => {
    const page = await get(`${portal}/resenv/${vm}/x`, { accept: HTML });
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe(`/login?next=${encodeURIComponent(`/resenv/${vm}/x`)}`);
    await expectNotFound(await get(`${portal}/resenv/${vm}/x`));
    await expectNotFound(await get(`${envs}/resenv/${vm}/x`));
    expect(await tryWebSocket(`${envs.replace('http', 'ws')}/resenv/${vm}/socket`, { origin: envs })).toEqual({ opened: false, status: 404 });
  });
});

describe('a ticket', () => {
  it('works once, and only for its VM', async () => {
    const { ticket } = await ticketFor(owner.session, vm);
    await expectNotFound(await get(`${envs}/resenv/${vmRoot}/__simplevm_ticket?t=${ticket}`));
    expect((await get(`${envs}/resenv/${vm}/__simplevm_ticket?t=${ticket}`)).status).toBe(302);
    await expectNotFound(await get(`${envs}/resenv/${vm}/__simplevm_ticket?t=${ticket}`));
    for (const bad of ['', 'x', `${ticket}x`, ticket.toUpperCase()]) await expectNotFound(await get(`${envs}/resenv/${vm}/__simplevm_ticket?t=${bad}`));
    await expectNotFound(await get(`${envs}/resenv/${vm}/__simplevm_ticket`));
    // Only on the environments' host, and only by GET.
    const other = await ticketFor(owner.session, vm);
    await expectNotFound(await fetch(`${envs}/resenv/${vm}/__simplevm_ticket?t=${other.ticket}`, { method: 'POST', redirect: 'manual' }));
    expect((await get(`${envs}/resenv/${vm}/__simplevm_ticket?t=${other.ticket}`)).status).toBe(302);
  });

  it('works within its minute, and not after', async () => {
    const late = await ticketFor(owner.session, vm);
    const justInTime = await ticketFor(owner.session, vm);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + RESENV_TICKET_MS - 2_000);
      expect((await get(justInTime.location)).status).toBe(302);
      vi.setSystemTime(Date.now() + 3_000);
      await expectNotFound(await get(late.location));
    } finally {
      vi.useRealTimers();
    }
  });

  it('ends with its session: one redeemed after logout gets nothing', async () => {
    const session = await t.factory.login(owner.username);
    secrets.push(session.cookie.split('=')[1], session.csrf);
    const { location } = await ticketFor(session, vm);
    expect((await t.http.post('/api/auth/logout', { as: session })).statusCode).toBe(204);
    await expectNotFound(await get(location));
  });

  it('is kept out of the log', () => {
    expect(maskUrlSecrets('/resenv/abc/__simplevm_ticket?t=s3cr3t-ticket&next=x%2Fy')).toBe('/resenv/abc/__simplevm_ticket?t=[redacted]&next=x/y');
  });

  it('brings the browser back only under the VM\'s own address', () => {
    const mount = '/resenv/abc';
    expect(nextPath(mount, 'x/y?z=1&w=%2F')).toBe('/resenv/abc/x/y?z=1&w=%2F');
    expect(nextPath(mount, 'a/../b')).toBe('/resenv/abc/b');
    for (const bad of [null, '', '/x', '//evil.example/x', '\\\\evil.example/x', 'https://evil.example/', 'javascript:alert(1)', '../../api/auth/me', 'a/../../x', 'a\nb', '..']) {
      expect(nextPath(mount, bad), String(bad)).toBe('/resenv/abc/');
    }
  });
});

describe('the grant cookie', () => {
  it('ends when the portal session logs out, over HTTP and WebSocket', async () => {
    const session = await t.factory.login(owner.username);
    secrets.push(session.cookie.split('=')[1], session.csrf);
    const grant = await grantFor(session, vmRoot);
    expect((await get(`${envs}/resenv/${vmRoot}/a`, { cookie: grant })).status).toBe(200);
    expect((await t.http.post('/api/auth/logout', { as: session })).statusCode).toBe(204);
    await expectNotFound(await get(`${envs}/resenv/${vmRoot}/a`, { cookie: grant }));
    expect(await tryWebSocket(`${envs.replace('http', 'ws')}/resenv/${vmRoot}/socket`, { cookie: grant, origin: envs })).toEqual({ opened: false, status: 404 });
    // A browser is sent back to the portal, where it is no longer logged in.
    const page = await get(`${envs}/resenv/${vmRoot}/a`, { accept: HTML, cookie: grant });
    expect(page.headers.get('location')).toBe(`${portal}/resenv/${vmRoot}/a`);
    expect((await t.ctx.db.kysely.selectFrom('resenv_grants').select('digest').where('digest', '=', sha256Hex(grant.split('=')[1])).execute())).toEqual([]);
  });

  it('admits only for its own VM, and only a user who may see it', async () => {
    const seen = watchBackend();
    const grant = await grantFor(owner.session, vm);
    await expectNotFound(await get(`${envs}/resenv/${vmRoot}/`, { cookie: grant }));
    expect(await tryWebSocket(`${envs.replace('http', 'ws')}/resenv/${vmRoot}/socket`, { cookie: grant, origin: envs })).toEqual({ opened: false, status: 404 });
    // Another member's grant for the owner's VM (which they cannot see), as if it had been made.
    const token = unique('grant');
    secrets.push(token);
    await insertResenvGrant(t.ctx.db.kysely, {
      digest: sha256Hex(token), userId: m2.id, sessionId: sha256Hex(m2.session.cookie.split('=')[1]), vmId: vm,
      createdAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await expectNotFound(await get(`${envs}/resenv/${vm}/`, { cookie: `simplevm_resenv=${token}` }));
    expect(await tryWebSocket(`${envs.replace('http', 'ws')}/resenv/${vm}/socket`, { cookie: `simplevm_resenv=${token}`, origin: envs })).toEqual({ opened: false, status: 404 });
    // The portal's session cookie counts for nothing on the environments' host.
    await expectNotFound(await get(`${envs}/resenv/${vm}/`, { cookie: owner.session.cookie }));
    expect(await tryWebSocket(`${envs.replace('http', 'ws')}/resenv/${vm}/socket`, { cookie: owner.session.cookie, origin: envs })).toEqual({ opened: false, status: 404 });
    expect(seen.requests()).toEqual([]);
    expect(seen.upgrades()).toEqual([]);
  });

  it('opens no WebSocket and takes no form from another origin, the portal\'s included', async () => {
    const grant = await grantFor(owner.session, vm);
    for (const origin of [portal, 'http://evil.example']) {
      expect(await tryWebSocket(`${envs.replace('http', 'ws')}/resenv/${vm}/socket`, { cookie: grant, origin })).toEqual({ opened: false, status: 404 });
      await expectNotFound(await fetch(`${envs}/resenv/${vm}/echo`, { method: 'POST', headers: { cookie: grant, origin }, body: 'x', redirect: 'manual' }));
    }
    const same = await fetch(`${envs}/resenv/${vm}/echo`, { method: 'POST', headers: { cookie: grant, origin: envs, 'content-type': 'text/plain' }, body: 'x' });
    expect(await same.json()).toMatchObject({ method: 'POST', body: 'x' });
  });
});

describe('the environments\' host', () => {
  it('serves nothing but /resenv/…: the API, the web app and the rest answer 404, even with a valid portal session', async () => {
    const session = { cookie: owner.session.cookie, 'x-csrf-token': owner.session.csrf };
    for (const url of ['/api/auth/me', '/api/vms/', `/api/vms/${vm}/`, '/portal/api/vms/', '/api/openapi.json', '/portal/api/docs/', '/healthz', '/', '/login', '/vms', '/index.html', '/resenv', '/resenv/']) {
      const res = await get(`${envs}${url}`, { ...session, accept: HTML });
      expect(res.status, url).toBe(404);
      expect(await res.json(), url).toEqual({ detail: expect.any(String), code: 'not_found' });
      expect(res.headers.get('x-request-id'), url).toBeTruthy();
    }
    for (const url of ['/api/auth/login', `/api/vms/${vm}/action/`, '/api/keys/']) {
      const res = await fetch(`${envs}${url}`, { method: 'POST', headers: { ...session, 'content-type': 'application/json', origin: envs }, body: JSON.stringify({ username: owner.username, password: 'x', os_action: 'stop' }) });
      expect(res.status, url).toBe(404);
    }
    expect(await tryWebSocket(`${envs.replace('http', 'ws')}/api/vms/`, { ...session, origin: envs })).toMatchObject({ opened: false });
    // The portal's host still serves them.
    expect((await get(`${portal}/api/auth/me`, session)).status).toBe(200);
    expect((await get(`${portal}/healthz`)).status).toBe(200);
  });
});

describe('the portal\'s host, with SIMPLEVM_RESENV_URL', () => {
  it('never proxies: a session\'s visit gets a ticket, anything else 404, whatever cookies come with it', async () => {
    const seen = watchBackend();
    const grant = await grantFor(owner.session, vm);
    const cookies = `${owner.session.cookie}; ${grant}; env_token=abc`;
    for (const url of [`/resenv/${vm}/`, `/resenv/${vm}/echo`, `/resenv/${vm}`]) {
      const res = await get(`${portal}${url}`, { cookie: cookies });
      expect(res.status, url).toBe(302);
      expect(res.headers.get('location'), url).toMatch(new RegExp(`^${envs}/resenv/${vm}/__simplevm_ticket\\?t=[\\w-]{43}&next=`));
      secrets.push(new URL(res.headers.get('location') ?? '').searchParams.get('t') ?? '');
    }
    for (const method of ['POST', 'PUT', 'HEAD']) {
      const res = await fetch(`${portal}/resenv/${vm}/echo`, { method, headers: { cookie: cookies, 'x-csrf-token': owner.session.csrf, origin: portal }, ...(method === 'HEAD' ? {} : { body: 'x' }), redirect: 'manual' });
      expect(res.status, method).toBe(404);
    }
    expect(await tryWebSocket(`${portal.replace('http', 'ws')}/resenv/${vm}/socket`, { cookie: cookies, origin: portal })).toEqual({ opened: false, status: 404 });
    // A grant cookie alone is nothing there.
    await expectNotFound(await get(`${portal}/resenv/${vm}/`, { cookie: grant }));
    // Nor is the ticket's path.
    await expectNotFound(await get(`${portal}/resenv/${vm}/__simplevm_ticket?t=${unique('t')}`, { cookie: grant }));
    expect(seen.requests()).toEqual([]);
    expect(seen.upgrades()).toEqual([]);
  });
});

describe('what reaches the VM', () => {
  it('never the portal\'s session cookie, its CSRF token, a ticket or a grant cookie', () => {
    const all = JSON.stringify([...backend.requests, ...backend.upgrades]);
    expect(backend.requests.length + backend.upgrades.length).toBeGreaterThan(5);
    for (const secret of secrets.filter((s) => s.length >= 16)) expect(all).not.toContain(secret);
    expect(all).not.toContain('simplevm_');
    expect(all).not.toContain('__simplevm_ticket');
  });

  it('strips the grant cookie and a Referer naming a ticket, whatever the request', () => {
    const out = upstreamRequestHeaders(
      { cookie: 'simplevm_resenv=g; a=1; simplevm_session=s', referer: 'http://resenv.example/resenv/x/__simplevm_ticket?t=secret', accept: 'text/html' },
      { clientIp: '10.1.1.1', proto: 'https', host: 'resenv.example', prefix: '/resenv/x' },
    );
    expect(out).toEqual({ accept: 'text/html', cookie: 'a=1', 'x-forwarded-for': '10.1.1.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'resenv.example', 'x-forwarded-prefix': '/resenv/x' });
  });
});

describe('the start', () => {
  it('warns once when environments share the portal\'s origin, naming SIMPLEVM_RESENV_URL, and not otherwise', async () => {
    const warnings = async (env: Record<string, string>) => {
      const lines: string[] = [];
      const p = await buildTestApp({ SIMPLEVM_LOG_LEVEL: 'warn', ...env }, { worker: false, logStream: { write: (line) => void lines.push(line) } });
      await p.close();
      return lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
    };
    const shared = await warnings({});
    expect(shared).toHaveLength(1);
    expect(shared[0].msg).toContain('SIMPLEVM_RESENV_URL');
    expect(shared[0].msg).toContain('portal\'s API');
    expect(await warnings({ SIMPLEVM_PUBLIC_URL: 'https://portal.example.org', SIMPLEVM_RESENV_URL: 'https://resenv.example.org' })).toEqual([]);
  });
});
