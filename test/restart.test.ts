// Durable transitions (spec §5): a transition in flight survives the end of the process that
// started it, whether killed (SIGKILL) or stopped (SIGTERM), and finishes exactly once after a
// restart on the same database. Real `simplevm serve` processes on one SQLite file; the tables
// are read with better-sqlite3 directly while no server runs.
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, type ServerProcess, startServer, tempDir } from './process.js';

const tmp = tempDir();
const file = path.join(tmp.dir, 'restart.sqlite');
const env = {
  DATABASE_URL: file,
  // Long enough that a transition is surely in flight when the process dies, short enough to wait for.
  SIMPLEVM_SIM_DELAY_MS: '1500',
  // A dead worker's claim runs out quickly.
  SIMPLEVM_LEASE_MS: '500',
  SIMPLEVM_WORKER_POLL_MS: '50',
  SIMPLEVM_RATE_LIMIT: '0',
};
const servers: ServerProcess[] = [];
const api = new ApiClient('');

async function serve(): Promise<ServerProcess> {
  const s = await startServer(env);
  servers.push(s);
  api.baseUrl = s.url;
  return s;
}

/** Reads the database while no server runs. */
function readDb<T>(fn: (db: SQLite.Database) => T): T {
  const db = new SQLite(file, { fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

interface Pending { object_type: string; object_id: string; action: string; lease_owner: string | null }

const pendingTransitions = () =>
  readDb((db) => db.prepare('select object_type, object_id, action, lease_owner from transitions order by object_id, action').all() as Pending[]);

/** transition_history as `type:id:action` → how many times it finished, and with which outcomes. */
function finished(): { counts: Map<string, number>; outcomes: Set<string>; total: number } {
  const rows = readDb((db) => db.prepare('select object_type, object_id, action, outcome from transition_history').all()) as Array<{ object_type: string; object_id: string; action: string; outcome: string }>;
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(`${r.object_type}:${r.object_id}:${r.action}`, (counts.get(`${r.object_type}:${r.object_id}:${r.action}`) ?? 0) + 1);
  return { counts, outcomes: new Set(rows.map((r) => r.outcome)), total: rows.length };
}

function expectSettled(): void {
  const busyVms = readDb((db) => db.prepare('select openstack_id, status, task_state from vms where task_state is not null').all());
  expect(busyVms).toEqual([]);
  const busyVolumes = readDb((db) => db.prepare("select openstack_id, status from volumes where status in ('creating', 'attaching', 'detaching', 'extending', 'deleting')").all());
  expect(busyVolumes).toEqual([]);
  expect(pendingTransitions()).toEqual([]);
}

let projectId: number;
const ids = { vm1: '', vm2: '', vm3: '', vol1: '', vol2: '' };
/** Every transition started so far, as `type:id:action`. */
const started: string[] = [];

beforeAll(async () => {
  const first = await serve();
  const password = /with password (\S+) and project/.exec(first.stdout())?.[1];
  expect(password, first.stdout()).toBeDefined();
  expect((await api.login('admin', password!)).status).toBe(200);
  projectId = (await api.get('/api/projects/')).data.find((p: { name: string }) => p.name === 'demo').id;
}, 90_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  tmp.remove();
}, 60_000);

async function createVm(name: string): Promise<string> {
  const res = await api.post('/api/vms/', { project_id: projectId, image_name: 'Debian-12', flavor_name: 'de.NBI tiny', vm_name: name });
  expect(res.status, JSON.stringify(res.data)).toBe(201);
  started.push(`vm:${res.data.openstack_id}:create`);
  return res.data.openstack_id;
}

async function createVolume(name: string): Promise<string> {
  const res = await api.post('/api/volumes/', { project_id: projectId, name, storage: 1 });
  expect(res.status, JSON.stringify(res.data)).toBe(201);
  started.push(`volume:${res.data.openstack_id}:create`);
  return res.data.openstack_id;
}

async function act(kind: 'vms' | 'volumes', id: string, body: Record<string, unknown>): Promise<void> {
  const res = await api.post(`/api/${kind}/${id}/action/`, body);
  expect(res.status, JSON.stringify(res.data)).toBe(202);
  started.push(`${kind === 'vms' ? 'vm' : 'volume'}:${id}:${body.os_action === 'resume' ? 'resume' : body.os_action}`);
}

describe('a transition in flight survives the end of its process', { timeout: 90_000 }, () => {
  it('SIGKILL mid-transition leaves the transitions in flight in the database', async () => {
    [ids.vm1, ids.vm2, ids.vol1] = await Promise.all([createVm('stopper'), createVm('host'), createVolume('disk')]);
    await Promise.all([
      api.waitFor(`/api/vms/${ids.vm1}/`, (d) => d.status === 'ACTIVE' && d.task_state === null),
      api.waitFor(`/api/vms/${ids.vm2}/`, (d) => d.status === 'ACTIVE' && d.task_state === null),
      api.waitFor(`/api/volumes/${ids.vol1}/`, (d) => d.status === 'available'),
    ]);

    // Four transitions start; the process dies long before the simulated cloud finishes any.
    await act('vms', ids.vm1, { os_action: 'stop' });
    await act('volumes', ids.vol1, { os_action: 'attach', vm_openstack_id: ids.vm2 });
    ids.vm3 = await createVm('newborn');
    ids.vol2 = await createVolume('fresh');
    expect(await servers.at(-1)!.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

    expect(pendingTransitions().map((t) => `${t.object_type}:${t.object_id}:${t.action}`).sort()).toEqual(started.slice(3).sort());
    expect(readDb((db) => db.prepare('select task_state from vms where openstack_id = ?').get(ids.vm1))).toEqual({ task_state: 'powering-off' });
    expect(readDb((db) => db.prepare('select status from volumes where openstack_id = ?').get(ids.vol1))).toEqual({ status: 'attaching' });
  });

  it('the next start on the same database finishes each of them', async () => {
    // The session is in the database too: it still works after the restart.
    await serve();
    const [vm1, vol1, vm2, vm3, vol2] = await Promise.all([
      api.waitFor(`/api/vms/${ids.vm1}/`, (d) => d.status === 'SHUTOFF' && d.task_state === null),
      api.waitFor(`/api/volumes/${ids.vol1}/`, (d) => d.status === 'in-use'),
      api.waitFor(`/api/vms/${ids.vm2}/`, (d) => d.volumes.length === 1),
      api.waitFor(`/api/vms/${ids.vm3}/`, (d) => d.status === 'ACTIVE' && d.task_state === null),
      api.waitFor(`/api/volumes/${ids.vol2}/`, (d) => d.status === 'available'),
    ]);
    expect(vm1.fixed_ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(vol1).toMatchObject({ attached_to: ids.vm2, device: '/dev/vdb' });
    expect(vm2.volumes).toEqual([ids.vol1]);
    expect(vm3.fixed_ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(vol2).toMatchObject({ status: 'available', attached_to: null });
  });

  it('SIGTERM exits 0 promptly, without waiting for the cloud and without leaving a claim behind', async () => {
    const server = servers.at(-1)!;
    const before = started.length;
    await act('vms', ids.vm1, { os_action: 'resume' });
    await act('volumes', ids.vol1, { os_action: 'detach' });
    const del = await api.delete(`/api/volumes/${ids.vol2}/`);
    expect(del.status, JSON.stringify(del.data)).toBe(202);
    started.push(`volume:${ids.vol2}:delete`);

    const stopping = Date.now();
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopping).toBeLessThan(5_000);
    expect(server.stdout()).toMatch(/shutting down/);

    // What was killed earlier finished exactly once; what was in flight now is still pending, unclaimed.
    const history = finished();
    expect([...history.counts.keys()].sort()).toEqual(started.slice(0, before).sort());
    expect([...history.counts.values()].every((n) => n === 1)).toBe(true);
    expect(history.outcomes).toEqual(new Set(['success']));
    const pending = pendingTransitions();
    expect(pending.map((t) => `${t.object_type}:${t.object_id}:${t.action}`).sort()).toEqual(started.slice(before).sort());
    expect(pending.map((t) => t.lease_owner)).toEqual([null, null, null]);
  });

  it('the next start completes the work in flight; every transition finished exactly once', async () => {
    const next = await serve();
    await Promise.all([
      api.waitFor(`/api/vms/${ids.vm1}/`, (d) => d.status === 'ACTIVE' && d.task_state === null),
      api.waitFor(`/api/volumes/${ids.vol1}/`, (d) => d.status === 'available' && d.attached_to === null),
      api.waitFor(`/api/vms/${ids.vm2}/`, (d) => d.volumes.length === 0),
    ]);
    const until = Date.now() + 15_000;
    let gone = await api.get(`/api/volumes/${ids.vol2}/`);
    while (gone.status !== 404 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      gone = await api.get(`/api/volumes/${ids.vol2}/`);
    }
    expect(gone.status).toBe(404);
    expect(await next.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    expectSettled();
    const history = finished();
    expect(started).toHaveLength(10);
    expect([...history.counts.keys()].sort()).toEqual([...started].sort());
    expect([...history.counts.values()].every((n) => n === 1)).toBe(true);
    expect(history.total).toBe(started.length);
    expect(history.outcomes).toEqual(new Set(['success']));
  });
});
