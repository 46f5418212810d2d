// Crash safety (spec §5: a transition in flight "is never lost or run twice"). A real
// `simplevm serve` process gets a burst of concurrent VM and volume operations over real HTTP
// (creates, stops, resumes, reboots, deletes; volume creates, attaches, detaches, extends, deletes,
// some of them racing for the same object) and is killed with SIGKILL in the middle of it, then
// started again on the same database. Once no transition is left: no object is stuck in a task
// state or a busy status; the transitions that finished are exactly those of the accepted (201/202)
// requests, each once (a request whose answer the kill swallowed may or may not have been accepted,
// and is allowed either way, at most once); attachments agree with the VMs they name; and the
// project's quota usage equals what exists. Five kill/restart rounds on one continuing database: a
// SQLite file, or a fresh PostgreSQL database when TEST_DATABASE_URL is set. Below, the races
// between a VM's delete and its volumes' changes that the bursts found, replayed step by step.
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, type TestUser, buildTestApp } from './helpers.js';
import { type FreshDatabase, freshPgDatabase } from './pg.js';
import { ApiClient, type Reply, type ServerProcess, startServer, tempDir } from './process.js';

const ROUNDS = 5;
/** How much of each burst is answered before the kill; 1: all of it (only transitions in flight). */
const KILL_AFTER = [0.5, 1, 0.3, 0.7, 1];
/** Each start's simulated cloud delay: transitions surely in flight at the kill, quick to finish. */
const SIM_DELAYS = [500, 300, 800, 400, 600];
const BUSY_VOLUME = ['creating', 'attaching', 'detaching', 'extending', 'deleting'];

const tmp = tempDir('simplevm-crash-');
const onPg = Boolean(process.env.TEST_DATABASE_URL);
let pgDb: FreshDatabase | null = null;
let databaseUrl: string;
const servers: ServerProcess[] = [];
const api = new ApiClient('');
let projectId: number;
let flavors: Map<string, { vcpus: number; ram_gb: number }>;
/** The history rows of the setup's own transitions. */
let seeded: string[] = [];

function env(simDelayMs: number): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    SIMPLEVM_SIM_DELAY_MS: String(simDelayMs),
    // A killed worker's claims run out quickly, so the next process takes its work over soon.
    SIMPLEVM_LEASE_MS: '400',
    SIMPLEVM_WORKER_POLL_MS: '50',
    SIMPLEVM_RATE_LIMIT: '0',
    SIMPLEVM_AUTH_FAIL_LIMIT: '0',
  };
}

async function serve(simDelayMs: number): Promise<ServerProcess> {
  const s = await startServer(env(simDelayMs));
  servers.push(s);
  api.baseUrl = s.url;
  return s;
}

/** Reads tables directly: better-sqlite3 on the file (WAL lets it read beside a server), or pg. */
async function rows<T>(query: string): Promise<T[]> {
  if (pgDb) return pgDb.query<T>(query);
  const db = new SQLite(databaseUrl, { fileMustExist: true });
  try {
    return db.prepare(query).all() as T[];
  } finally {
    db.close();
  }
}

interface VmRow { openstack_id: string; name: string; status: string; task_state: string | null; project_id: number; vcpus: number; ram_gb: number }
interface VolumeRow { openstack_id: string; name: string; status: string; storage: number; attached_to: string | null; project_id: number }
interface HistoryRow { transition_id: string; object_type: string; object_id: string; action: string; outcome: string }

const vmRows = () => rows<VmRow>('select openstack_id, name, status, task_state, project_id, vcpus, ram_gb from vms');
const volumeRows = () => rows<VolumeRow>('select openstack_id, name, status, storage, attached_to, project_id from volumes');
const historyRows = () => rows<HistoryRow>('select transition_id, object_type, object_id, action, outcome from transition_history');
const transitionRows = () => rows<{ object_type: string; object_id: string; action: string }>('select object_type, object_id, action from transitions');

/** mulberry32: a small seeded PRNG, so that every run plans the same bursts. */
function prng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)];
  const shuffle = <T>(xs: T[]): T[] => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = int(0, i);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  };
  return { next, int, pick, shuffle };
}

// ---------------------------------------------------------------------------------------------
// A burst: requests planned from what exists, fired together, the server killed partway.
// ---------------------------------------------------------------------------------------------

interface Op {
  method: 'POST' | 'DELETE';
  url: string;
  body?: Record<string, unknown>;
  objectType: 'vm' | 'volume';
  /** The object acted on; for a create, found by `name` once the answer (or the database) tells. */
  objectId?: string;
  name?: string;
  action: string;
}

interface Outcome {
  op: Op;
  /** null: no answer (the server died first). */
  reply: Reply | null;
}

function planBurst(r: ReturnType<typeof prng>, round: number, vms: VmRow[], volumes: VolumeRow[]): Op[] {
  const ops: Op[] = [];
  const vmAction = (vm: VmRow, action: string, body: Record<string, unknown>) =>
    ops.push({ method: 'POST', url: `/api/vms/${vm.openstack_id}/action/`, body, objectType: 'vm', objectId: vm.openstack_id, action });
  const vmDelete = (vm: VmRow) => ops.push({ method: 'DELETE', url: `/api/vms/${vm.openstack_id}/`, objectType: 'vm', objectId: vm.openstack_id, action: 'delete' });
  const volumeAction = (v: VolumeRow, action: string, body: Record<string, unknown>) =>
    ops.push({ method: 'POST', url: `/api/volumes/${v.openstack_id}/action/`, body: { os_action: action, ...body }, objectType: 'volume', objectId: v.openstack_id, action });
  const volumeDelete = (v: VolumeRow) => ops.push({ method: 'DELETE', url: `/api/volumes/${v.openstack_id}/`, objectType: 'volume', objectId: v.openstack_id, action: 'delete' });

  const live = vms.filter((vm) => vm.status !== 'DELETED');
  const hosts = live.filter((vm) => vm.status === 'ACTIVE' || vm.status === 'SHUTOFF');
  // Races: a volume attached to a VM that is being deleted at the same time, and an attached volume
  // extended while its VM is deleted (a VM's delete must leave no volume attached to it, and every
  // volume change must still finish, whichever is judged or done first).
  const raced = new Set<string>();
  const free = volumes.find((v) => v.status === 'available');
  const doomed = live.length > 3 ? hosts.at(-1) : undefined;
  if (free && doomed) {
    volumeAction(free, 'attach', { vm_openstack_id: doomed.openstack_id });
    vmDelete(doomed);
    raced.add(free.openstack_id).add(doomed.openstack_id);
  }
  const attached = volumes.find((v) => v.status === 'in-use' && !raced.has(v.attached_to ?? ''));
  if (attached && live.length > 4) {
    volumeAction(attached, 'extend', { size: attached.storage + 1 });
    vmDelete(live.find((vm) => vm.openstack_id === attached.attached_to)!);
    raced.add(attached.openstack_id).add(attached.attached_to!);
  }
  for (const vm of live.filter((x) => !raced.has(x.openstack_id))) {
    // Some VMs get two requests at once: at most one of them may be accepted.
    for (let n = r.next() < 0.25 ? 2 : 1; n > 0; n--) {
      const roll = r.next();
      if (roll < 0.2 && live.length > 4) vmDelete(vm);
      else if (vm.status === 'SHUTOFF') vmAction(vm, 'resume', { os_action: 'resume' });
      else if (roll < 0.55) vmAction(vm, 'stop', { os_action: 'stop' });
      else vmAction(vm, 'reboot', { os_action: 'reboot', reboot_type: r.pick(['SOFT', 'HARD']) });
    }
  }
  for (const v of volumes.filter((x) => !raced.has(x.openstack_id))) {
    for (let n = r.next() < 0.25 ? 2 : 1; n > 0; n--) {
      const roll = r.next();
      if (v.status === 'in-use') {
        if (roll < 0.6) volumeAction(v, 'detach', {});
        else volumeAction(v, 'extend', { size: v.storage + r.int(1, 3) });
      } else if (roll < 0.45 && hosts.length) volumeAction(v, 'attach', { vm_openstack_id: r.pick(hosts).openstack_id });
      else if (roll < 0.7) volumeAction(v, 'extend', { size: v.storage + r.int(1, 3) });
      else volumeDelete(v);
    }
  }
  // Creates, some of them beyond the quota (10 VMs, 32 cores, 64 GB; 10 volumes, 500 GB).
  for (let i = 0, n = r.int(2, 4); i < n; i++) {
    const name = `r${round}-vm${i}`;
    ops.push({ method: 'POST', url: '/api/vms/', body: { project_id: projectId, image_name: r.pick(['Ubuntu-22.04', 'Debian-12']), flavor_name: r.pick(['de.NBI tiny', 'de.NBI small']), vm_name: name }, objectType: 'vm', name, action: 'create' });
  }
  for (let i = 0, n = r.int(2, 3); i < n; i++) {
    const name = `r${round}-vol${i}`;
    ops.push({ method: 'POST', url: '/api/volumes/', body: { project_id: projectId, name, storage: r.int(1, 5) }, objectType: 'volume', name, action: 'create' });
  }
  return r.shuffle(ops);
}

/** Fires every request at once and SIGKILLs the server once `killAfter` of them are answered. */
async function burstAndKill(server: ServerProcess, ops: Op[], killAfter: number): Promise<Outcome[]> {
  const outcomes: Outcome[] = ops.map((op) => ({ op, reply: null }));
  const killAt = Math.max(1, Math.floor(ops.length * killAfter));
  let answered = 0;
  let killing: Promise<unknown> | null = null;
  await Promise.all(
    ops.map(async (op, i) => {
      try {
        outcomes[i].reply = await api.request(op.method, op.url, op.body);
      } catch {
        return; // the connection died with the server: no answer
      }
      answered += 1;
      if (answered >= killAt) killing ??= server.stop('SIGKILL');
    }),
  );
  expect(await (killing ?? server.stop('SIGKILL'))).toEqual({ code: null, signal: 'SIGKILL' });
  return outcomes;
}

// ---------------------------------------------------------------------------------------------
// After the restart: settled, and consistent.
// ---------------------------------------------------------------------------------------------

async function waitUntilSettled(timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    const [vms, volumes, transitions] = await Promise.all([
      api.get(`/api/vms/?project_id=${projectId}&page_size=500`),
      api.get(`/api/volumes/?project_id=${projectId}&page_size=500`),
      transitionRows(),
    ]);
    const busyVms = vms.status === 200 ? vms.data.results.filter((vm: { task_state: string | null }) => vm.task_state !== null) : null;
    const busyVolumes = volumes.status === 200 ? volumes.data.results.filter((v: { status: string }) => BUSY_VOLUME.includes(v.status)) : null;
    if (busyVms?.length === 0 && busyVolumes?.length === 0 && transitions.length === 0) return;
    last = JSON.stringify({ busyVms, busyVolumes, transitions });
    await new Promise((r) => setTimeout(r, 100));
  }
  const detail = await rows('select object_type, object_id, action, phase, attempts, due_at, lease_owner from transitions');
  const warnings = servers.at(-1)!.stdout().split('\n').filter((l) => /"level":(40|50|60)/.test(l)).slice(-5);
  throw new Error(`transitions still in flight after ${timeoutMs} ms: ${last} ${JSON.stringify(detail)} ${warnings.join('\n')}`);
}

/** Everything that must hold once no transition is left. */
async function expectConsistent(): Promise<{ vms: VmRow[]; volumes: VolumeRow[] }> {
  const [vms, volumes] = [await vmRows(), await volumeRows()];
  expect(await transitionRows()).toEqual([]);
  expect(vms.filter((vm) => vm.task_state !== null)).toEqual([]);
  expect(vms.filter((vm) => !['ACTIVE', 'SHUTOFF', 'DELETED'].includes(vm.status))).toEqual([]);
  expect(volumes.filter((v) => !['available', 'in-use'].includes(v.status))).toEqual([]);

  // Attachments agree: an in-use volume names a live VM, an available one names none, and each VM
  // lists exactly the volumes attached to it.
  const byId = new Map(vms.map((vm) => [vm.openstack_id, vm]));
  for (const v of volumes) {
    if (v.status === 'in-use') expect(byId.get(v.attached_to ?? '')?.status, `volume ${v.name} in use by ${v.attached_to}`).toMatch(/^(ACTIVE|SHUTOFF)$/);
    else expect(v.attached_to, `available volume ${v.name}`).toBeNull();
  }
  const listed = (await api.get(`/api/vms/?project_id=${projectId}&page_size=500`)).data.results as Array<{ openstack_id: string; volumes: string[] }>;
  for (const vm of listed) {
    expect([...vm.volumes].sort(), `volumes of VM ${vm.openstack_id}`).toEqual(volumes.filter((v) => v.attached_to === vm.openstack_id).map((v) => v.openstack_id).sort());
  }

  // The quota usage is what exists: VMs that are not DELETED with their flavors' sizes, and volumes.
  const project = await api.get(`/api/projects/${projectId}/`);
  expect(project.status).toBe(200);
  const liveVms = listed as unknown as Array<{ flavor_name: string; status: string }>;
  expect(liveVms.every((vm) => vm.status !== 'DELETED')).toBe(true);
  const apiVolumes = (await api.get(`/api/volumes/?project_id=${projectId}&page_size=500`)).data.results as Array<{ storage: number }>;
  const expected = {
    vms: liveVms.length,
    cores: liveVms.reduce((n, vm) => n + flavors.get(vm.flavor_name)!.vcpus, 0),
    ram_gb: liveVms.reduce((n, vm) => n + flavors.get(vm.flavor_name)!.ram_gb, 0),
    volumes: apiVolumes.length,
    volume_gb: apiVolumes.reduce((n, v) => n + v.storage, 0),
  };
  expect(project.data.usage).toEqual(expected);
  // ...and the API's view is the database's.
  const inProject = vms.filter((vm) => vm.project_id === projectId && vm.status !== 'DELETED');
  expect(inProject.length).toBe(expected.vms);
  expect(inProject.reduce((n, vm) => n + vm.vcpus, 0)).toBe(expected.cores);
  expect(volumes.filter((v) => v.project_id === projectId).reduce((n, v) => n + v.storage, 0)).toBe(expected.volume_gb);
  return { vms, volumes };
}

/**
 * The transitions that finished in this round are exactly one per accepted request, plus at most
 * one for each request whose answer the kill swallowed; none other, and none twice.
 */
function expectHistoryMatches(outcomes: Outcome[], fresh: HistoryRow[], vms: VmRow[], volumes: VolumeRow[]): { accepted: number; unanswered: number; lateAccepted: number } {
  const remaining = new Map<string, HistoryRow[]>();
  for (const h of fresh) {
    const k = `${h.object_type}:${h.object_id}:${h.action}`;
    remaining.set(k, [...(remaining.get(k) ?? []), h]);
  }
  const take = (k: string) => {
    const list = remaining.get(k);
    if (!list?.length) return false;
    list.pop();
    if (!list.length) remaining.delete(k);
    return true;
  };
  const idOf = (o: Outcome): string | undefined => {
    if (o.op.objectId) return o.op.objectId;
    if (o.reply) return o.reply.data?.openstack_id;
    // An unanswered create: the object exists if (and only if) the request was accepted.
    return (o.op.objectType === 'vm' ? vms : volumes).find((x) => x.name === o.op.name)?.openstack_id;
  };
  let accepted = 0;
  let unanswered = 0;
  let lateAccepted = 0;
  for (const o of outcomes) {
    if (o.reply) {
      // Answered: accepted, or refused for the state or the quota; nothing else.
      const ok = o.op.action === 'create' ? 201 : 202;
      expect([ok, 409], `${o.op.method} ${o.op.url} → ${JSON.stringify(o.reply)}`).toContain(o.reply.status);
      if (o.reply.status !== ok) continue;
      accepted += 1;
      expect(take(`${o.op.objectType}:${idOf(o)}:${o.op.action}`), `no finished transition for the accepted ${o.op.method} ${o.op.url} ${JSON.stringify(o.op.body ?? {})}`).toBe(true);
    } else {
      unanswered += 1;
    }
  }
  for (const o of outcomes.filter((x) => !x.reply)) {
    const id = idOf(o);
    if (id && take(`${o.op.objectType}:${id}:${o.op.action}`)) lateAccepted += 1;
  }
  expect([...remaining.values()].flat(), 'finished transitions that no request started, or that ran twice').toEqual([]);
  return { accepted, unanswered, lateAccepted };
}

// ---------------------------------------------------------------------------------------------

describe('SIGKILL in the middle of a burst of VM and volume operations', () => {
  beforeAll(async () => {
    if (onPg) {
      pgDb = await freshPgDatabase('svm_crash');
      databaseUrl = pgDb.url;
    } else {
      databaseUrl = path.join(tmp.dir, 'crash.sqlite');
    }
    const first = await serve(SIM_DELAYS[0]);
    const password = /with password (\S+) and project/.exec(first.stdout())?.[1];
    expect(password, first.stdout()).toBeDefined();
    expect((await api.login('admin', password!)).status).toBe(200);
    projectId = (await api.get('/api/projects/')).data.find((p: { name: string }) => p.name === 'demo').id;
    flavors = new Map((await api.get(`/api/projects/${projectId}/flavors/`)).data.map((f: { name: string; vcpus: number; ram_gb: number }) => [f.name, f]));

    // A population to act on: VMs running and stopped, volumes free and attached.
    const vms: string[] = [];
    const volumes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await api.post('/api/vms/', { project_id: projectId, image_name: 'Ubuntu-24.04', flavor_name: 'de.NBI tiny', vm_name: `seed-vm${i}` });
      expect(res.status, JSON.stringify(res.data)).toBe(201);
      vms.push(res.data.openstack_id);
    }
    for (let i = 0; i < 4; i++) {
      const res = await api.post('/api/volumes/', { project_id: projectId, name: `seed-vol${i}`, storage: 2 });
      expect(res.status, JSON.stringify(res.data)).toBe(201);
      volumes.push(res.data.openstack_id);
    }
    await waitUntilSettled();
    for (const [path, body] of [
      [`/api/vms/${vms[4]}/action/`, { os_action: 'stop' }],
      [`/api/volumes/${volumes[0]}/action/`, { os_action: 'attach', vm_openstack_id: vms[0] }],
      [`/api/volumes/${volumes[1]}/action/`, { os_action: 'attach', vm_openstack_id: vms[1] }],
    ] as const) {
      const res = await api.post(path, body);
      expect(res.status, JSON.stringify(res.data)).toBe(202);
    }
    await waitUntilSettled();
    seeded = (await historyRows()).map((h) => h.transition_id);
    expect(seeded).toHaveLength(12);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
    await pgDb?.drop();
    tmp.remove();
  }, 60_000);

  const seen = new Set<string>();
  const totals = { accepted: 0, lateAccepted: 0, unanswered: 0, finished: 0 };

  it(`${ROUNDS} kill/restart rounds: nothing stuck, each accepted transition finished exactly once, usage is what exists`, async () => {
    const r = prng(0xc0ffee);
    for (const id of seeded) seen.add(id);
    for (let round = 0; round < ROUNDS; round++) {
      const server = servers.at(-1)!;
      const before = await expectConsistent();
      const ops = planBurst(r, round, before.vms.filter((vm) => vm.project_id === projectId), before.volumes.filter((v) => v.project_id === projectId));
      expect(ops.length).toBeGreaterThan(5);

      const outcomes = await burstAndKill(server, ops, KILL_AFTER[round]);
      // Killed mid-flight: work the dead process accepted is still in the database.
      const inFlight = await transitionRows();
      expect(inFlight.length, `round ${round}: nothing was in flight at the kill`).toBeGreaterThan(0);

      await serve(SIM_DELAYS[(round + 1) % SIM_DELAYS.length]);
      await waitUntilSettled();
      const after = await expectConsistent();

      const history = await historyRows();
      const fresh = history.filter((h) => !seen.has(h.transition_id));
      for (const h of fresh) seen.add(h.transition_id);
      // The simulated cloud fails nothing: a crash must not turn work into failures.
      expect(fresh.filter((h) => h.outcome !== 'success')).toEqual([]);
      const counts = expectHistoryMatches(outcomes, fresh, after.vms, after.volumes);
      // Work accepted before the kill whose answer the kill swallowed is proven the same way (it
      // finished exactly once): how much of it was answered in time depends on the machine's load.
      expect(counts.accepted + counts.lateAccepted, `round ${round}: too little was accepted to prove anything`).toBeGreaterThanOrEqual(3);
      if (KILL_AFTER[round] === 1) expect(counts.unanswered).toBe(0);
      // With every answer in, the history holds exactly one row per accepted request.
      expect(fresh.length).toBe(counts.accepted + counts.lateAccepted);
      totals.accepted += counts.accepted;
      totals.lateAccepted += counts.lateAccepted;
      totals.unanswered += counts.unanswered;
      totals.finished += fresh.length;
    }
    // Some requests really were cut off by a kill.
    expect(totals.unanswered).toBeGreaterThan(0);
  }, 150_000);

  it('after the last, clean stop: no transition left, one history row per transition, in all rounds', async () => {
    expect(await servers.at(-1)!.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(await transitionRows()).toEqual([]);
    const history = await historyRows();
    expect(new Set(history.map((h) => h.transition_id)).size).toBe(history.length);
    // The setup's transitions plus every round's.
    expect(history.length).toBe(seeded.length + totals.finished);
    expect(totals.finished).toBe(totals.accepted + totals.lateAccepted);
    const vms = await vmRows();
    expect(vms.filter((vm) => vm.task_state !== null)).toEqual([]);
    expect((await volumeRows()).filter((v) => BUSY_VOLUME.includes(v.status))).toEqual([]);
  });
});

// The interleavings the bursts above hit only now and then, made to happen every time: the worker is
// driven by hand (in process, on a fresh database) so that the steps of two transitions run in a
// chosen order, and a step whose completion a crash lost is replayed.
describe('a VM deleted while a change on one of its volumes is in flight', () => {
  let t: TestPortal;
  let user: TestUser;
  let project: number;
  let n = 0;

  beforeAll(async () => {
    t = await buildTestApp({ SIMPLEVM_SIM_DELAY_MS: '60' }, { worker: false });
    user = await t.factory.user({ superuser: true });
    project = (await t.factory.project({ admins: [user] })).id;
  });
  afterAll(() => t?.close());

  const as = () => user.session;
  const pendingTransitions = async () => (await sql<{ object_id: string; action: string }>`select object_id, action from transitions`.execute(t.ctx.db.kysely)).rows;
  /** Drives the worker until nothing is left in flight (bounded by the transitions' own deadline). */
  async function drain(): Promise<void> {
    const until = Date.now() + 10_000;
    while ((await pendingTransitions()).length && Date.now() < until) {
      await t.ctx.worker.tick();
      await new Promise((r) => setTimeout(r, 15));
    }
  }
  async function vmWithVolume(attached: boolean): Promise<{ vm: string; volume: string }> {
    n += 1;
    const vm = (await t.http.post('/api/vms/', { as: as(), body: { project_id: project, image_name: 'Debian-12', flavor_name: 'de.NBI tiny', vm_name: `race${n}` } })).data.openstack_id;
    const volume = (await t.http.post('/api/volumes/', { as: as(), body: { project_id: project, name: `race${n}`, storage: 1 } })).data.openstack_id;
    await drain();
    if (attached) {
      expect((await t.http.post(`/api/volumes/${volume}/action/`, { as: as(), body: { os_action: 'attach', vm_openstack_id: vm } })).statusCode).toBe(202);
      await drain();
    }
    return { vm, volume };
  }
  async function expectSettled(vm: string, volume: string, storage: number): Promise<void> {
    expect(await pendingTransitions()).toEqual([]);
    expect((await t.http.get(`/api/vms/${vm}/`, { as: as() })).data).toMatchObject({ status: 'DELETED', task_state: null, volumes: [] });
    expect((await t.http.get(`/api/volumes/${volume}/`, { as: as() })).data).toMatchObject({ status: 'available', attached_to: null, device: null, storage });
  }
  const deleteVm = async (vm: string) => expect((await t.http.delete(`/api/vms/${vm}/`, { as: as() })).statusCode).toBe(202);
  const volumeAction = async (volume: string, body: Record<string, unknown>) =>
    expect((await t.http.post(`/api/volumes/${volume}/action/`, { as: as(), body })).statusCode).toBe(202);

  it('attach, then delete, both finishing in one round of the worker: the volume ends free', async () => {
    const { vm, volume } = await vmWithVolume(false);
    await volumeAction(volume, { os_action: 'attach', vm_openstack_id: vm });
    await deleteVm(vm);
    await t.ctx.worker.tick(); // both ask the cloud
    await new Promise((r) => setTimeout(r, 100));
    await drain(); // both finish, concurrently
    await expectSettled(vm, volume, 1);
  });

  it('extend of an attached volume, with its VM deleted before or after: the extend still finishes', async () => {
    for (const vmFirst of [false, true]) {
      const { vm, volume } = await vmWithVolume(true);
      if (vmFirst) await deleteVm(vm);
      await volumeAction(volume, { os_action: 'extend', size: 3 });
      if (!vmFirst) await deleteVm(vm);
      await drain();
      await expectSettled(vm, volume, 3);
    }
  });

  it('an attach the cloud finished but whose completion a crash lost, then its VM deleted: it ends, the volume free', async () => {
    const { vm, volume } = await vmWithVolume(false);
    await volumeAction(volume, { os_action: 'attach', vm_openstack_id: vm });
    await t.ctx.worker.tick(); // the attach asks the cloud
    await new Promise((r) => setTimeout(r, 100));
    expect(await t.ctx.cloud.getVolume(volume)).toMatchObject({ status: 'in-use', attachedTo: vm }); // read, then the process died
    // The next process deletes the VM (the cloud detaches the volume) before it looks at the attach.
    await sql`update transitions set due_at = '2999-01-01T00:00:00.000Z' where object_id = ${volume}`.execute(t.ctx.db.kysely);
    await deleteVm(vm);
    await t.ctx.worker.tick();
    await sql`update transitions set due_at = '2000-01-01T00:00:00.000Z' where object_id = ${volume}`.execute(t.ctx.db.kysely);
    await drain();
    await expectSettled(vm, volume, 1);
  });
});
