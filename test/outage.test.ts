// Database outages and graceful shutdown (issue 5), with a real `simplevm serve` on PostgreSQL. The
// server reaches the database through a TCP proxy that the test cuts and restores (the machine's
// PostgreSQL server itself is never stopped: other tests use it). Under load, an outage answers 503
// `unavailable` (never a 500) to requests with a key and with a session, GET and POST, and /healthz
// says 503; once the database is back the same process serves again, and the transitions in flight
// finish. SIGTERM stops taking connections, lets the requests in flight finish, leaves no lease and
// exits 0. Runs whenever PostgreSQL is reachable, also when the suite runs on SQLite.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CutMode, type FreshDatabase, PG_BASE, TcpProxy, freshPgDatabase, pgReachable } from './pg.js';
import { ApiClient, type ServerProcess, startServer } from './process.js';

const reachable = await pgReachable();
const where = new URL(PG_BASE).host;

const ENV = {
  SIMPLEVM_API_KEYS_FOR: 'all',
  SIMPLEVM_RATE_LIMIT: '0',
  SIMPLEVM_AUTH_FAIL_LIMIT: '0',
  SIMPLEVM_SIM_DELAY_MS: '300',
  SIMPLEVM_WORKER_POLL_MS: '50',
  SIMPLEVM_LEASE_MS: '2000',
  SIMPLEVM_DB_POOL: '8',
};

let db: FreshDatabase;
const proxies: TcpProxy[] = [];
const servers: ServerProcess[] = [];
let password: string | undefined;

interface Reply {
  status: number;
  data: any;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A server process whose database connections all go through a proxy of their own. */
async function serveBehindProxy(env: Record<string, string> = {}): Promise<{ server: ServerProcess; proxy: TcpProxy }> {
  const proxy = await TcpProxy.start(db.url);
  proxies.push(proxy);
  const server = await startServer({ ...ENV, ...env, DATABASE_URL: proxy.urlFor(db.url) });
  servers.push(server);
  // The first server on the fresh database makes the admin and prints its password.
  password ??= /with password (\S+) and project/.exec(server.stdout())?.[1] as string;
  return { server, proxy };
}

/** The admin's session, an API key that reaches everything, and a running VM, on `server`. */
async function world(server: ServerProcess) {
  const session = new ApiClient(server.url);
  expect((await session.login('admin', password!)).status).toBe(200);
  const made = await session.post('/api/keys/', { name: 'outage', scopes: ['vm:read', 'vm:change_state', 'project:read'], own_objects_only: false });
  expect(made.status).toBe(201);
  const projectId: number = (await session.get('/api/projects/')).data.find((p: { name: string }) => p.name === 'demo').id;
  const vm = await session.post('/api/vms/', { project_id: projectId, image_name: 'Debian-12', flavor_name: 'de.NBI tiny', vm_name: `vm-${Date.now()}` });
  expect(vm.status).toBe(201);
  const vmId: string = vm.data.openstack_id;
  await session.waitFor(`/api/vms/${vmId}/`, (d) => d.status === 'ACTIVE' && d.task_state === null);
  return { session, key: made.data.key as string, vmId, projectId };
}

async function withKey(server: ServerProcess, key: string, method: string, url: string, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = { 'x-api-key': key };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, data: text ? JSON.parse(text) : null };
}

/** Whether a new TCP connection to the server's port is accepted. */
function accepts(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe.skipIf(!reachable)(`database outages and graceful shutdown on PostgreSQL${reachable ? '' : ` — skipped: PostgreSQL is not reachable at ${where}`}`, { timeout: 90_000 }, () => {
  beforeAll(async () => {
    db = await freshPgDatabase('svm_outage');
  }, 30_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
    await Promise.all(proxies.map((p) => p.close()));
    await db?.drop();
  }, 30_000);

  describe('while the database is unreachable', () => {
    let server: ServerProcess;
    let proxy: TcpProxy;
    let w: Awaited<ReturnType<typeof world>>;

    beforeAll(async () => {
      ({ server, proxy } = await serveBehindProxy());
      w = await world(server);
    }, 60_000);

    // Its worker would otherwise share the database with the next test's server.
    afterAll(async () => {
      expect(await server?.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    }, 30_000);

    type Kind = 'key GET' | 'key POST' | 'session GET' | 'session POST' | 'healthz';
    const KINDS: Kind[] = ['key GET', 'key POST', 'session GET', 'session POST', 'healthz'];

    function send(kind: Kind, n: number): Promise<Reply> {
      switch (kind) {
        case 'key GET':
          return withKey(server, w.key, 'GET', '/api/vms/?page_size=5');
        case 'key POST':
          // 202 when the VM is at rest, 409 while its previous reboot runs.
          return withKey(server, w.key, 'POST', `/api/vms/${w.vmId}/action/`, { os_action: 'reboot' });
        case 'session GET':
          return w.session.get(`/api/projects/${w.projectId}/`);
        case 'session POST':
          return w.session.post('/api/keys/', { name: `load-${n}`, scopes: ['vm:read'] });
        case 'healthz':
          return w.session.get('/healthz');
      }
    }

    const OK: Record<Kind, number[]> = {
      'key GET': [200],
      'key POST': [202, 409],
      'session GET': [200],
      'session POST': [201],
      healthz: [200],
    };

    it.each(['refuse', 'reset', 'blackhole'] as CutMode[])('cut (%s): 503 unavailable under load, never a 500, then recovery without a restart', async (mode) => {
      type Entry = { kind: Kind; startedAt: number; endedAt: number; status: number; code: string | undefined; error?: string };
      const log: Entry[] = [];
      let stop = false;
      let n = 0;
      const loop = async (offset: number) => {
        for (let i = offset; !stop; i++) {
          const kind = KINDS[i % KINDS.length];
          const startedAt = performance.now();
          try {
            const res = await send(kind, n++);
            log.push({ kind, startedAt, endedAt: performance.now(), status: res.status, code: res.data?.code });
          } catch (err) {
            log.push({ kind, startedAt, endedAt: performance.now(), status: 0, code: undefined, error: String(err) });
          }
        }
      };
      const loops = Array.from({ length: 6 }, (_, i) => loop(i));
      let cutAt = Infinity;
      let restoredAt = Infinity;
      const outage = (r: Entry) => r.startedAt > cutAt && r.endedAt < restoredAt;
      const after = (r: Entry) => r.startedAt > restoredAt;
      const ok = (r: Entry) => OK[r.kind].includes(r.status);
      try {
        await until('answers before the outage', () => KINDS.every((k) => log.some((r) => r.kind === k && ok(r))));

        cutAt = performance.now();
        await proxy.cut(mode);
        await until('503s of every kind during the outage', () => KINDS.every((k) => log.some((r) => r.kind === k && outage(r) && r.status === 503)), 30_000);

        await proxy.restore();
        restoredAt = performance.now();
        // Recovered: every kind of request succeeds again, each at least three times.
        await until('recovery', () => KINDS.every((k) => log.filter((r) => r.kind === k && after(r) && ok(r)).length >= 3), 30_000);
      } finally {
        stop = true;
        await Promise.all(loops);
        await proxy.restore();
      }

      const show = (r: Entry) => `${r.kind} answered ${r.status} ${r.code ?? r.error ?? ''}`;
      // Never a 500, never a dropped connection: each request got an answer.
      expect(log.filter((r) => r.status === 0 || (r.status >= 500 && r.status !== 503)).map(show)).toEqual([]);
      // Whatever the outage touched answered as usual or 503 `unavailable`; /healthz said so too.
      for (const r of log.filter((x) => !ok(x))) {
        expect(r.status, show(r)).toBe(503);
        expect(r.code, show(r)).toBe('unavailable');
        expect(r.endedAt > cutAt && r.startedAt < restoredAt, `${show(r)} outside the outage`).toBe(true);
      }
      // Before the cut and once the database was back, everything succeeded.
      expect(log.filter((r) => (r.endedAt < cutAt || after(r)) && !ok(r)).map(show)).toEqual([]);
      expect(log.filter((r) => outage(r) && r.status === 503).length).toBeGreaterThanOrEqual(KINDS.length);

      // The same process, still running; its worker survived: what was in flight finishes, and new work is done.
      expect(await Promise.race([server.exited.then(() => 'exited'), sleep(0).then(() => 'running')])).toBe('running');
      await w.session.waitFor(`/api/vms/${w.vmId}/`, (d) => d.status === 'ACTIVE' && d.task_state === null);
      expect((await w.session.post(`/api/vms/${w.vmId}/action/`, { os_action: 'reboot' })).status).toBe(202);
      await w.session.waitFor(`/api/vms/${w.vmId}/`, (d) => d.status === 'ACTIVE' && d.task_state === null);
      await until('no transition left', async () => (await db.query('select id from transitions')).length === 0);
    });
  });

  it('SIGTERM: stops accepting, finishes the requests in flight, gives back its leases and exits 0', async () => {
    const { server, proxy } = await serveBehindProxy({ SIMPLEVM_SIM_DELAY_MS: '3000', SIMPLEVM_DB_POOL: '10' });
    const w = await world(server);
    // A transition that is still in flight when the process ends.
    expect((await withKey(server, w.key, 'POST', `/api/vms/${w.vmId}/action/`, { os_action: 'stop' })).status).toBe(202);
    // Enough connections open that the requests below need no new one.
    await Promise.all(Array.from({ length: 8 }, () => withKey(server, w.key, 'GET', '/api/projects/')));

    // The database stalls: each request below is taken in by the server and then waits on it.
    proxy.hold();
    const inFlight = [
      withKey(server, w.key, 'GET', '/api/vms/?text=inflight-1'),
      withKey(server, w.key, 'GET', `/api/vms/${w.vmId}/?inflight=2`),
      w.session.get(`/api/projects/${w.projectId}/?inflight=3`),
      w.session.post('/api/keys/?inflight=4', { name: 'made-while-stopping', scopes: ['vm:read'] }),
      withKey(server, w.key, 'POST', `/api/vms/${w.vmId}/action/?inflight=5`, { os_action: 'reboot' }),
    ];
    await until('the server to have taken in the five requests', () => (server.stdout().match(/"msg":"incoming request"[^\n]*inflight|inflight[^\n]*"msg":"incoming request"/g) ?? []).length === 5);
    expect(proxy.held).toBeGreaterThan(0);

    process.kill(server.pid, 'SIGTERM');
    await until('the server to begin shutting down', () => /shutting down/.test(server.stdout()));
    // No new connection is taken while the old requests finish.
    await until('the port to refuse connections', async () => !(await accepts(server.url)), 5_000);
    expect(await Promise.race([server.exited.then(() => 'exited'), sleep(300).then(() => 'running')])).toBe('running');

    // The database answers again: every request in flight gets its answer, then the process exits 0.
    proxy.release();
    const answers = await Promise.all(inFlight);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 201, 409]);
    expect(answers[1].data.task_state).toBe('powering-off');
    // Promptly: the clients' keep-alive connections (fetch keeps them) do not hold the exit back.
    const answeredAt = Date.now();
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - answeredAt).toBeLessThan(5_000);

    // The stop is still in flight, and no instance holds it: the next one may take it at once.
    const left = await db.query<{ action: string; lease_owner: string | null; lease_until: string | null }>('select action, lease_owner, lease_until from transitions');
    expect(left).toEqual([{ action: 'stop', lease_owner: null, lease_until: null }]);
    const key = await db.query<{ name: string }>("select name from api_keys where name = 'made-while-stopping'");
    expect(key).toHaveLength(1);
  });
});
