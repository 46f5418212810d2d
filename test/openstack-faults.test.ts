// Faults between the portal and OpenStack (issue 6), through the real HTTP API and the fake
// OpenStack: a token expiring mid-run is renewed invisibly; a Nova outage during a stop is retried
// and ends in success or, past the deadline, in ERROR — never with a task_state left set; Nova's
// 409s and 404s, servers deleted behind the portal's back, failed builds, refused creates and lost
// answers all end in a clear state; the portal does not start on a cloud it cannot use. While the
// faults last, a watcher keeps asking the API: no request ever answers 500.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/server/config.js';
import { createPortal } from '../src/server/portal.js';
import { type FakeOpenStack, startFakeOpenStack } from './fake-openstack/server.js';
import { type TestPortal, type TestUser, buildTestApp, sleep, unique } from './helpers.js';

let fake: FakeOpenStack;
let t: TestPortal;
/** The same cloud with a short transition deadline, for the faults that outlast it. */
let short: TestPortal;
const statuses: number[] = [];

beforeAll(async () => {
  fake = await startFakeOpenStack({ delayMs: 40 });
  t = await buildTestApp(fake.env());
  short = await buildTestApp(fake.env({ SIMPLEVM_OS_TIMEOUT_MS: '2500' }));
});
afterAll(async () => {
  await t?.close();
  await short?.close();
  await fake?.close();
});
afterEach(() => {
  fake.clearFaults();
  fake.tokenTtlMs = 3_600_000;
  fake.maxServers = 1000;
  // Every answer any test got, including the watchers' during the faults.
  expect(statuses.filter((s) => s >= 500)).toEqual([]);
});

async function world(p: TestPortal = t): Promise<{ user: TestUser; projectId: number }> {
  const user = await p.factory.user();
  const project = await p.factory.project({ members: [user] });
  return { user, projectId: project.id };
}

/** Keeps asking the API for these URLs (and a list) until stopped; records every status. */
function watch(p: TestPortal, user: TestUser, urls: string[], projectId: number): { stop: () => Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const url of [...urls, `/api/vms/?project_id=${projectId}`, `/api/volumes/?project_id=${projectId}`]) {
        statuses.push((await p.http.get(url, { as: user.session })).statusCode);
      }
      await new Promise((r) => setTimeout(r, 15));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

async function until<T>(what: string, probe: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

/** The cloud's id of a portal object, from the provider's map. */
async function cloudIdOf(p: TestPortal, portalId: string): Promise<string> {
  const row = await p.ctx.db.kysely.selectFrom('cloud_ids').select('cloud_id').where('portal_id', '=', portalId).executeTakeFirstOrThrow();
  return row.cloud_id!;
}

async function outcomes(p: TestPortal, objectId: string): Promise<string[]> {
  const rows = await p.ctx.db.kysely.selectFrom('transition_history').select(['action', 'outcome']).where('object_id', '=', objectId).orderBy('finished_at').execute();
  return rows.map((r) => `${r.action}:${r.outcome}`);
}

const failedSince = (mark: number, pred: (r: FakeOpenStack['log'][number]) => boolean) =>
  fake.log.slice(mark).filter((r) => pred(r) && (r.status === 'dropped' || (typeof r.status === 'number' && r.status >= 500))).length;

describe('tokens', () => {
  it('renews a token that expires or is revoked mid-run, invisibly: every transition succeeds', async () => {
    const { user, projectId } = await world();
    const as = user.session;
    fake.tokenTtlMs = 500;
    const issuedBefore = fake.tokenRequests();
    const mark = fake.log.length;
    // Keystone revokes every token now and then (as a key rotation does), besides their short life.
    const revoker = setInterval(() => fake.revokeAllTokens(), 180);
    try {
      const vm = await t.factory.vm(user, projectId);
      const url = `/api/vms/${vm.openstack_id}/`;
      const w = watch(t, user, [url], projectId);
      for (const action of ['stop', 'resume'] as const) {
        expect((await t.http.post(`${url}action/`, { as, body: { os_action: action } })).statusCode).toBe(202);
        await t.factory.waitFor(user, url, (d) => d.status === (action === 'stop' ? 'SHUTOFF' : 'ACTIVE') && d.task_state === null);
        // Past the token's life, so that the next action needs a new token whatever the revoker did:
        // at least two renewals however fast the machine runs the rest.
        await sleep(600);
      }
      const vol = await t.factory.volume(user, projectId);
      expect((await t.http.delete(url, { as })).statusCode).toBe(202);
      await t.factory.waitFor(user, url, (d) => d.status === 'DELETED');
      await w.stop();
      expect(await outcomes(t, vm.openstack_id)).toEqual(['create:success', 'stop:success', 'resume:success', 'delete:success']);
      expect(await outcomes(t, vol.openstack_id)).toEqual(['create:success']);
    } finally {
      clearInterval(revoker);
    }
    expect(fake.log.slice(mark).some((r) => r.status === 401)).toBe(true);
    expect(fake.tokenRequests() - issuedBefore).toBeGreaterThanOrEqual(2);
  });
});

describe('a Nova outage during a stop', () => {
  it('is retried with backoff while the VM shows powering-off, and the stop completes when Nova is back', async () => {
    const { user, projectId } = await world();
    const vm = await t.factory.vm(user, projectId);
    const url = `/api/vms/${vm.openstack_id}/`;
    const w = watch(t, user, [url], projectId);
    const mark = fake.log.length;
    const outage = fake.inject({ service: 'compute', kind: 'status', status: 503 });
    expect((await t.http.post(`${url}action/`, { as: user.session, body: { os_action: 'stop' } })).statusCode).toBe(202);
    // Two rounds of the worker, each with the client's own retries.
    await until('retries', () => failedSince(mark, (r) => r.service === 'compute' && r.method === 'POST') >= 6);
    expect((await t.http.get(url, { as: user.session })).data).toMatchObject({ status: 'ACTIVE', task_state: 'powering-off' });
    outage.remove();
    const stopped = await t.factory.waitFor(user, url, (d) => d.task_state === null, 20_000);
    await w.stop();
    expect(stopped).toMatchObject({ status: 'SHUTOFF', fault: null });
    expect(await outcomes(t, vm.openstack_id)).toEqual(['create:success', 'stop:success']);
  });

  it('ends in ERROR with a fault once the deadline passes, never with a stuck task_state; the VM can then be deleted', async () => {
    const { user, projectId } = await world(short);
    const vm = await short.factory.vm(user, projectId);
    const url = `/api/vms/${vm.openstack_id}/`;
    const w = watch(short, user, [url], projectId);
    const mark = fake.log.length;
    // Nova unreachable: connections dropped without an answer.
    const outage = fake.inject({ service: 'compute', kind: 'drop' });
    expect((await short.http.post(`${url}action/`, { as: user.session, body: { os_action: 'stop' } })).statusCode).toBe(202);
    const failed = await short.factory.waitFor(user, url, (d) => d.task_state === null, 20_000);
    expect(failed).toMatchObject({ status: 'ERROR', fault: 'The stop did not finish in time.' });
    expect(failedSince(mark, (r) => r.service === 'compute')).toBeGreaterThanOrEqual(3);
    outage.remove();
    expect((await short.http.delete(url, { as: user.session })).statusCode).toBe(202);
    await short.factory.waitFor(user, url, (d) => d.status === 'DELETED' && d.task_state === null);
    await w.stop();
    expect(await outcomes(short, vm.openstack_id)).toEqual(['create:success', 'stop:error', 'delete:success']);
  });

  it('survives slow answers: a request that times out is asked again', async () => {
    const { user, projectId } = await world();
    const vm = await t.factory.vm(user, projectId);
    const url = `/api/vms/${vm.openstack_id}/`;
    fake.inject({ service: 'compute', method: 'POST', kind: 'slow', delayMs: 2500, times: 1 });
    expect((await t.http.post(`${url}action/`, { as: user.session, body: { os_action: 'stop' } })).statusCode).toBe(202);
    expect(await t.factory.waitFor(user, url, (d) => d.task_state === null, 20_000)).toMatchObject({ status: 'SHUTOFF' });
  });
});

describe('Nova conflicts and vanished servers', () => {
  it('takes a 409 for a server already stopped behind the portal\'s back as done', async () => {
    const { user, projectId } = await world();
    const vm = await t.factory.vm(user, projectId);
    const server = fake.servers.get(await cloudIdOf(t, vm.openstack_id))!;
    Object.assign(server, { vmState: 'stopped', powerState: 4 });
    const mark = fake.log.length;
    const url = `/api/vms/${vm.openstack_id}/`;
    expect((await t.http.post(`${url}action/`, { as: user.session, body: { os_action: 'stop' } })).statusCode).toBe(202);
    expect(await t.factory.waitFor(user, url, (d) => d.task_state === null)).toMatchObject({ status: 'SHUTOFF', fault: null });
    expect(fake.log.slice(mark).some((r) => r.status === 409)).toBe(true);
  });

  it('retries a 409 that does not clear, then ends in ERROR, not stuck', async () => {
    const { user, projectId } = await world(short);
    const vm = await short.factory.vm(user, projectId);
    const server = fake.servers.get(await cloudIdOf(short, vm.openstack_id))!;
    // Busy with a task of its own (a migration an operator started) for longer than the deadline.
    server.taskState = 'migrating';
    const url = `/api/vms/${vm.openstack_id}/`;
    try {
      expect((await short.http.post(`${url}action/`, { as: user.session, body: { os_action: 'reboot' } })).statusCode).toBe(202);
      expect(await short.factory.waitFor(user, url, (d) => d.task_state === null, 20_000)).toMatchObject({ status: 'ERROR', fault: 'The reboot did not finish in time.' });
    } finally {
      server.taskState = null;
    }
  });

  it('marks a server deleted behind the portal\'s back DELETED at its next action', async () => {
    const { user, projectId } = await world();
    const vm = await t.factory.vm(user, projectId);
    fake.deleteServerNow(await cloudIdOf(t, vm.openstack_id));
    const url = `/api/vms/${vm.openstack_id}/`;
    expect((await t.http.post(`${url}action/`, { as: user.session, body: { os_action: 'stop' } })).statusCode).toBe(202);
    expect(await t.factory.waitFor(user, url, (d) => d.task_state === null)).toMatchObject({ status: 'DELETED', fault: 'The server disappeared from the cloud.' });
  });

  it('shows a failed build as ERROR with Nova\'s fault message, and deletes it', async () => {
    const { user, projectId } = await world();
    fake.buildFailures.push('No valid host was found. There are not enough hosts available.');
    const vm = await t.factory.vm(user, projectId, { active: false });
    const url = `/api/vms/${vm.openstack_id}/`;
    expect(await t.factory.waitFor(user, url, (d) => d.task_state === null)).toMatchObject({
      status: 'ERROR', fault: 'No valid host was found. There are not enough hosts available.', fixed_ip: null,
    });
    expect((await t.http.delete(url, { as: user.session })).statusCode).toBe(202);
    await t.factory.waitFor(user, url, (d) => d.status === 'DELETED');
    expect(fake.serverTagged(vm.openstack_id)).toEqual([]);
  });

  it('ends a create the cloud refuses (quota) in ERROR at once with the cloud\'s reason, not at the deadline', async () => {
    const { user, projectId } = await world();
    fake.maxServers = 0;
    const started = Date.now();
    const vm = await t.factory.vm(user, projectId, { active: false });
    const url = `/api/vms/${vm.openstack_id}/`;
    const failed = await t.factory.waitFor(user, url, (d) => d.task_state === null);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(failed.status).toBe('ERROR');
    expect(failed.fault).toMatch(/^Nova refused to create the server: Quota exceeded for instances: Requested 1, but already used \d+ of \d+ instances$/);
    fake.maxServers = 1000;
    expect((await t.http.delete(url, { as: user.session })).statusCode).toBe(202);
    await t.factory.waitFor(user, url, (d) => d.status === 'DELETED' && d.task_state === null);
  });
});

describe('lost answers: every create is safe to repeat', () => {
  it('creates one server, one volume and one image when the answers to the creates are lost', async () => {
    const { user, projectId } = await world();
    const as = user.session;
    fake.inject({ service: 'compute', method: 'POST', path: /\/servers$/, kind: 'drop-after', times: 1 });
    const vm = await t.factory.vm(user, projectId, { active: false });
    await t.factory.waitFor(user, `/api/vms/${vm.openstack_id}/`, (d) => d.status === 'ACTIVE', 20_000);
    expect(fake.serverTagged(vm.openstack_id)).toHaveLength(1);

    fake.inject({ service: 'volume', method: 'POST', path: /\/volumes$/, kind: 'drop-after', times: 1 });
    const vol = await t.factory.volume(user, projectId, { available: false });
    await t.factory.waitFor(user, `/api/volumes/${vol.openstack_id}/`, (d) => d.status === 'available', 20_000);
    expect(fake.volumeTagged(vol.openstack_id)).toHaveLength(1);

    fake.inject({ service: 'compute', method: 'POST', path: /\/action$/, kind: 'drop-after', times: 1 });
    const snap = await t.http.post('/api/snapshots/', { as, body: { snapshot_instance: vm.openstack_id, snapshot_name: unique('snap') } });
    expect(snap.statusCode).toBe(202);
    await t.factory.waitFor(user, `/api/projects/${projectId}/snapshots/`, (list: { openstack_id: string; status: string }[]) =>
      list.some((s) => s.openstack_id === snap.data.openstack_id && s.status === 'active'), 20_000);
    expect([...fake.images.values()].filter((i) => i.properties.simplevm_id === snap.data.openstack_id)).toHaveLength(1);
  });

  it('keeps a volume action going through a Cinder that answers 500 for a while', async () => {
    const { user, projectId } = await world();
    const vol = await t.factory.volume(user, projectId, { storage: 1 });
    const url = `/api/volumes/${vol.openstack_id}/`;
    const w = watch(t, user, [url], projectId);
    const mark = fake.log.length;
    const outage = fake.inject({ service: 'volume', kind: 'status', status: 500 });
    expect((await t.http.post(`${url}action/`, { as: user.session, body: { os_action: 'extend', size: 4 } })).statusCode).toBe(202);
    await until('retries', () => failedSince(mark, (r) => r.service === 'volume') >= 3);
    expect((await t.http.get(url, { as: user.session })).data.status).toBe('extending');
    outage.remove();
    await t.factory.waitFor(user, url, (d) => d.status === 'available' && d.storage === 4, 20_000);
    await w.stop();
  });
});

describe('a cloud the portal cannot use stops it at start, with a clear line', () => {
  const attempt = (env: Record<string, string>) => createPortal(loadConfig({ SIMPLEVM_LOG_LEVEL: 'silent', ...fake.env(env), DATABASE_URL: ':memory:' }));

  it('names refused credentials', async () => {
    await expect(attempt({ OS_APPLICATION_CREDENTIAL_SECRET: 'not-the-secret' })).rejects.toThrow(/Keystone POST \/auth\/tokens answered 401 .*credentials were refused/);
  });

  it('names a Nova without microversion 2.89', async () => {
    fake.novaMaxVersion = '2.88';
    try {
      await expect(attempt({})).rejects.toThrow(/answered 406 computeFault: Version 2.89 is not supported by the API/);
    } finally {
      fake.novaMaxVersion = '2.104';
    }
  });

  it('names an OS_AUTH_URL that does not lead to Keystone', async () => {
    await expect(attempt({ OS_AUTH_URL: `${fake.url}/nothing-here` })).rejects.toThrow(/answered 404: OS_AUTH_URL does not lead to a Keystone v3 API/);
  });

  it('names an unreachable Keystone', async () => {
    fake.inject({ service: 'identity', kind: 'drop' });
    await expect(attempt({})).rejects.toThrow(/^Keystone POST \/auth\/tokens could not be reached .*\(3 attempts\)$/);
  });
});
