// Several instances, one database (issue 5): two real `simplevm serve` processes on one fresh
// PostgreSQL database. A key deleted through one is refused by the other on the very next request;
// concurrent creates over both never exceed a quota; a session made on one works on the other; each
// transition is driven by exactly one instance; and when one instance is killed (SIGKILL) while it
// holds transition leases, the other takes its work over once the leases expire and finishes every
// transition exactly once. Runs whenever PostgreSQL is reachable, also when the suite runs on SQLite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FreshDatabase, PG_BASE, freshPgDatabase, pgReachable } from './pg.js';
import { ApiClient, type ServerProcess, startServer } from './process.js';

const reachable = await pgReachable();
const where = new URL(PG_BASE).host;

const LEASE_MS = 1000;
const ENV = {
  SIMPLEVM_API_KEYS_FOR: 'all',
  SIMPLEVM_RATE_LIMIT: '0',
  SIMPLEVM_AUTH_FAIL_LIMIT: '0',
  // Long enough that a burst of transitions is in flight together, short enough to wait for.
  SIMPLEVM_SIM_DELAY_MS: '700',
  SIMPLEVM_WORKER_POLL_MS: '20',
  SIMPLEVM_LEASE_MS: String(LEASE_MS),
  SIMPLEVM_DB_POOL: '6',
};

let db: FreshDatabase;
let a: ServerProcess;
let b: ServerProcess;
/** The admin's session, on instance A and (the same cookie) on instance B. */
let onA: ApiClient;
let onB: ApiClient;
const workerOf = new Map<ServerProcess, string>();
/** Every VM transition an instance accepted (201/202), as `id:action`, in the order accepted. */
const accepted: string[] = [];

interface Reply {
  status: number;
  data: any;
}

/** A request with an API key. */
async function withKey(server: ServerProcess, key: string, method: string, url: string, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = { 'x-api-key': key };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, data: text ? JSON.parse(text) : null };
}

const clientOn = (server: ServerProcess) => (server === a ? onA : onB);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function newProject(name: string, vms: number): Promise<number> {
  const [p] = await db.query<{ id: number }>(
    `insert into projects (name, description, quota_vms, quota_cores, quota_ram_gb, quota_volumes, quota_volume_gb, created_at)
     values ($1, '', $2, 1000, 1000, 10, 100, $3) returning id`,
    [name, vms, new Date().toISOString()],
  );
  return p.id;
}

async function createVm(server: ServerProcess, projectId: number, name: string): Promise<Reply> {
  const res = await clientOn(server).post('/api/vms/', { project_id: projectId, image_name: 'Debian-12', flavor_name: 'de.NBI tiny', vm_name: name });
  if (res.status === 201) accepted.push(`${res.data.openstack_id}:create`);
  return res;
}

async function act(server: ServerProcess, id: string, action: 'stop' | 'resume' | 'reboot' | 'delete'): Promise<Reply> {
  const res = action === 'delete'
    ? await clientOn(server).delete(`/api/vms/${id}/`)
    : await clientOn(server).post(`/api/vms/${id}/action/`, { os_action: action, ...(action === 'reboot' ? { reboot_type: 'HARD' } : {}) });
  if (res.status === 202) accepted.push(`${id}:${action}`);
  return res;
}

/** Every VM transition has finished: none in the transitions table, no VM with a task_state. */
async function settled(): Promise<boolean> {
  const [{ n }] = await db.query<{ n: number }>('select count(*)::int as n from transitions');
  const [{ busy }] = await db.query<{ busy: number }>('select count(*)::int as busy from vms where task_state is not null');
  return n === 0 && busy === 0;
}

async function history(): Promise<Array<{ transition_id: string; object_id: string; action: string; outcome: string; finished_by: string; finished_at: string }>> {
  return db.query('select transition_id, object_id, action, outcome, finished_by, finished_at from transition_history');
}

describe.skipIf(!reachable)(`two server instances on one PostgreSQL database${reachable ? '' : ` — skipped: PostgreSQL is not reachable at ${where}`}`, { timeout: 90_000 }, () => {
  beforeAll(async () => {
    db = await freshPgDatabase('svm_instances');
    // Started together on an empty database, as `docker compose up --scale` would: both migrate and
    // bootstrap at once, and both must come up.
    [a, b] = await Promise.all([startServer({ ...ENV, DATABASE_URL: db.url }), startServer({ ...ENV, DATABASE_URL: db.url })]);
    for (const s of [a, b]) {
      const id = /"worker":"(worker-[^"]+)","msg":"transition worker started"/.exec(s.stdout())?.[1];
      expect(id, s.stdout()).toBeDefined();
      workerOf.set(s, id!);
    }
    const password = [a, b].map((s) => /with password (\S+) and project/.exec(s.stdout())?.[1]).filter(Boolean);
    expect(password).toHaveLength(1); // exactly one instance bootstrapped the admin
    onA = new ApiClient(a.url);
    expect((await onA.login('admin', password[0]!)).status).toBe(200);
    onB = new ApiClient(b.url);
    onB.cookie = onA.cookie;
    onB.csrf = onA.csrf;
  }, 90_000);

  afterAll(async () => {
    await Promise.all([a, b].filter(Boolean).map((s) => s.stop('SIGKILL')));
    await db?.drop();
  }, 30_000);

  it('a session made on one instance is valid on the other, and logging out on one ends it on both', async () => {
    const me = await onB.get('/api/auth/me');
    expect(me.status).toBe(200);
    expect(me.data.username).toBe('admin');
    // Its CSRF token is checked on B too: an unsafe request with it succeeds, without it fails.
    const key = await onB.post('/api/keys/', { name: 'made-on-b', scopes: ['vm:read'] });
    expect(key.status, JSON.stringify(key.data)).toBe(201);
    const noCsrf = await fetch(`${b.url}/api/keys/`, { method: 'POST', headers: { cookie: onB.cookie!, 'content-type': 'application/json' }, body: '{"name":"x","scopes":["vm:read"]}' });
    expect(noCsrf.status).toBe(403);
    // A key made through B is listed through A.
    expect((await onA.get('/api/keys/')).data.map((k: { name: string }) => k.name)).toContain('made-on-b');

    // A second session, made on B, ended on A: B refuses it on the very next request.
    const other = new ApiClient(b.url);
    const password = /with password (\S+) and project/.exec(a.stdout() + b.stdout())![1];
    expect((await other.login('admin', password)).status).toBe(200);
    expect((await other.get('/api/auth/me')).status).toBe(200);
    const viaA = new ApiClient(a.url);
    viaA.cookie = other.cookie;
    viaA.csrf = other.csrf;
    expect((await viaA.post('/api/auth/logout')).status).toBe(204);
    expect((await other.get('/api/auth/me')).status).toBe(401);
  });

  it('a key deleted through one instance is refused by the other on the very next request', async () => {
    const made = await onA.post('/api/keys/', { name: 'revoke-me', scopes: ['vm:read', 'project:read'], own_objects_only: false });
    expect(made.status).toBe(201);
    const key: string = made.data.key;
    expect((await withKey(b, key, 'GET', '/api/projects/')).status).toBe(200);

    // B is used with the key without pause while A deletes it.
    const calls: Array<{ startedAt: number; status: number }> = [];
    let stop = false;
    const hammer = async () => {
      while (!stop) {
        const startedAt = performance.now();
        const res = await withKey(b, key, 'GET', '/api/projects/');
        calls.push({ startedAt, status: res.status });
      }
    };
    const hammers = [hammer(), hammer()];
    await until('B answering with the key', async () => calls.filter((c) => c.status === 200).length >= 10);
    const del = await onA.delete(`/api/keys/${made.data.id}/`);
    const deletedAt = performance.now();
    expect(del.status).toBe(204);
    const next = await withKey(b, key, 'GET', '/api/auth/me');
    expect(next.status).toBe(401);
    expect(next.data.code).toBe('not_authenticated');
    await until('more requests to B', async () => calls.filter((c) => c.startedAt > deletedAt).length >= 20);
    stop = true;
    await Promise.all(hammers);

    expect(calls.filter((c) => c.startedAt < deletedAt).some((c) => c.status === 200)).toBe(true);
    const after = calls.filter((c) => c.startedAt > deletedAt);
    expect(new Set(after.map((c) => c.status))).toEqual(new Set([401]));
    expect((await withKey(a, key, 'GET', '/api/projects/')).status).toBe(401);
  });

  it('30 concurrent creates spread over both instances never exceed a quota of 5', async () => {
    const projectId = await newProject('quota-five', 5);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => createVm(i % 2 ? b : a, projectId, `q${i}`)));
    const tally: Record<string, number> = {};
    for (const r of results) {
      const label = r.status === 201 ? '201' : `${r.status} ${r.data?.code}`;
      tally[label] = (tally[label] ?? 0) + 1;
    }
    expect(tally).toEqual({ '201': 5, '409 quota_exceeded': 25 });
    const [{ n }] = await db.query<{ n: number }>('select count(*)::int as n from vms where project_id = $1', [projectId]);
    expect(n).toBe(5);
    const project = await onB.get(`/api/projects/${projectId}/`);
    expect(project.data.usage.vms).toBe(5);
  });

  let vmIds: string[] = [];

  it('each transition in flight is driven by exactly one instance; both instances take work', async () => {
    const projectId = await newProject('burst', 40);
    const created = await Promise.all(Array.from({ length: 12 }, (_, i) => createVm(i % 2 ? a : b, projectId, `burst${i}`)));
    expect(created.map((r) => r.status)).toEqual(Array(12).fill(201));
    vmIds = created.map((r) => r.data.openstack_id as string);
    await until('the new VMs to be ACTIVE', settled);

    // Each VM is stopped through both instances at once: one accepts, the other answers 409.
    const twice = await Promise.all(vmIds.flatMap((id) => [act(a, id, 'stop'), act(b, id, 'stop')]));
    const codes = twice.map((r) => (r.status === 202 ? 202 : `${r.status} ${r.data?.code}`));
    expect(codes.filter((c) => c === 202)).toHaveLength(12);
    expect(codes.filter((c) => c !== 202)).toEqual(Array(12).fill('409 invalid_state'));
    await until('the VMs to be stopped', settled);
    const resumed = await Promise.all(vmIds.map((id, i) => act(i % 2 ? b : a, id, 'resume')));
    expect(resumed.map((r) => r.status)).toEqual(Array(12).fill(202));
    await until('the VMs to be running again', settled);

    const rows = await history();
    expect(rows.map((r) => `${r.object_id}:${r.action}`).sort()).toEqual([...accepted].sort());
    expect(new Set(rows.map((r) => r.transition_id)).size).toBe(rows.length);
    expect(new Set(rows.map((r) => r.outcome))).toEqual(new Set(['success']));
    // Both instances finished some of the work, and nothing else did.
    expect(new Set(rows.map((r) => r.finished_by))).toEqual(new Set([workerOf.get(a), workerOf.get(b)]));
    const list = await onA.get(`/api/vms/?project_id=${projectId}&page_size=100`);
    expect(list.data.results.map((v: { status: string }) => v.status)).toEqual(Array(12).fill('ACTIVE'));
  });

  it('SIGKILL of an instance holding leases: the other takes its work over when the leases expire and finishes each transition once', async () => {
    const before = accepted.length;
    const projectId = await newProject('takeover', 20);
    // The burst: every VM gets an action, through either instance, and new VMs are created.
    const actions: Array<'stop' | 'reboot' | 'delete'> = ['stop', 'reboot', 'delete'];
    const burst = await Promise.all([
      ...vmIds.map((id, i) => act(i % 2 ? a : b, id, actions[i % 3])),
      ...Array.from({ length: 6 }, (_, i) => createVm(i % 2 ? b : a, projectId, `late${i}`)),
    ]);
    expect(burst.map((r) => r.status).filter((s) => s >= 300)).toEqual([]);
    const running = [...vmIds.filter((_, i) => i % 3 === 1), ...burst.slice(vmIds.length).map((r) => r.data.openstack_id as string)];

    // A is frozen (SIGSTOP) at a moment when it holds leases on transitions in flight, and killed.
    const aWorker = workerOf.get(a)!;
    let held: Array<{ id: string; object_id: string; action: string; lease_until: string }> = [];
    const end = Date.now() + 15_000;
    let attempts = 0;
    while (held.length === 0) {
      if (Date.now() > end) throw new Error('instance A never held a lease while transitions were in flight');
      process.kill(a.pid, 'SIGSTOP');
      // What A sent before it stopped (a commit that releases a lease, say) still reaches PostgreSQL:
      // let that land before reading what A holds.
      await sleep(100);
      // A lease with some time left, so that it surely outlives the checks below.
      held = await db.query('select id, object_id, action, lease_until from transitions where lease_owner = $1 and lease_until > $2', [aWorker, new Date(Date.now() + 300).toISOString()]);
      attempts += 1;
      if (held.length === 0) {
        process.kill(a.pid, 'SIGCONT');
        // All done before A was caught holding one: another wave (reboots; only running VMs accept).
        if (attempts % 10 === 0 && (await settled())) await Promise.all(running.map((id) => act(a, id, 'reboot')));
        await sleep(Math.random() * 10);
      }
    }
    expect(await a.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

    // Until its leases run out, A's transitions stay A's: B does not steal them early.
    const stillHeld = await db.query<{ id: string }>('select id from transitions where lease_owner = $1 and id = any($2)', [aWorker, held.map((h) => h.id)]);
    expect(stillHeld.map((r) => r.id).sort()).toEqual(held.map((h) => h.id).sort());

    await until('B to finish every transition', settled, 30_000);
    const rows = await history();
    expect(rows.map((r) => `${r.object_id}:${r.action}`).sort()).toEqual([...accepted].sort());
    expect(new Set(rows.map((r) => r.transition_id)).size).toBe(rows.length);
    expect(new Set(rows.map((r) => r.outcome))).toEqual(new Set(['success']));
    expect(accepted.length - before).toBeGreaterThanOrEqual(18);
    // What A held, B finished, and only after A's lease on it had expired.
    for (const h of held) {
      const done = rows.find((r) => r.transition_id === h.id);
      expect(done, `transition ${h.id} (${h.action})`).toBeDefined();
      expect(done!.finished_by).toBe(workerOf.get(b));
      expect(done!.finished_at >= h.lease_until).toBe(true);
    }
    // The objects reached their end states.
    const states = await db.query<{ openstack_id: string; status: string }>('select openstack_id, status from vms where project_id in (select id from projects where name in ($1, $2))', ['burst', 'takeover']);
    const status = new Map(states.map((s) => [s.openstack_id, s.status]));
    vmIds.forEach((id, i) => expect(status.get(id)).toBe(['SHUTOFF', 'ACTIVE', 'DELETED'][i % 3]));
    expect(states.filter((s) => !vmIds.includes(s.openstack_id)).map((s) => s.status)).toEqual(Array(6).fill('ACTIVE'));

    // B is still whole, and stops cleanly.
    expect((await onB.get('/api/auth/me')).status).toBe(200);
    expect(await b.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
