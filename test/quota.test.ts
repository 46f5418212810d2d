// Project quota under concurrency (spec §4): "two concurrent creates can never together exceed it".
// Many creates are fired at once at a small quota; exactly the ones that fit succeed, the rest are
// 409 quota_exceeded, and the usage the project reports agrees.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type As, type TestPortal, type TestUser, buildTestApp, unique } from './helpers.js';

const ENV = { SIMPLEVM_AUTH_FAIL_LIMIT: '0', SIMPLEVM_RATE_LIMIT: '0' };
const ATTEMPTS = 20;
const FLAVORS = [
  { name: 'de.NBI tiny', vcpus: 1, ram_gb: 2 },
  { name: 'de.NBI small', vcpus: 2, ram_gb: 4 },
  { name: 'de.NBI medium', vcpus: 4, ram_gb: 8 },
  { name: 'de.NBI large', vcpus: 8, ram_gb: 16 },
];
/** Room for everything but the resource under test. */
const ROOMY = { vms: 1000, cores: 10_000, ram_gb: 10_000, volumes: 1000, volume_gb: 100_000 };

let t: TestPortal;
let su: TestUser;
beforeAll(async () => {
  t = await buildTestApp(ENV);
  su = await t.factory.user({ superuser: true });
});
afterAll(() => t?.close());

type Res = Awaited<ReturnType<TestPortal['http']['get']>>;

/** A project with two members; callers alternate between their sessions and an API key of the first. */
async function crowd(quota: Partial<typeof ROOMY>) {
  const a = await t.factory.user();
  const b = await t.factory.user();
  const project = await t.factory.project({ members: [a, b], quota: { ...ROOMY, ...quota } });
  const { key } = await t.factory.key(a);
  const callers: As[] = [a.session, b.session, { key }];
  return { a, b, project, callerOf: (i: number) => callers[i % callers.length] };
}

/** Fires all requests at once. */
function together(n: number, send: (i: number) => Promise<Res>): Promise<Res[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => send(i)));
}

function tally(responses: Res[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of responses) {
    const label = r.statusCode < 300 ? String(r.statusCode) : `${r.statusCode} ${r.data?.code}`;
    out[label] = (out[label] ?? 0) + 1;
  }
  return out;
}

async function usageOf(user: TestUser, projectId: number) {
  const res = await t.http.get(`/api/projects/${projectId}/`, { as: user.session });
  expect(res.statusCode).toBe(200);
  return res.data.usage as { vms: number; cores: number; ram_gb: number; volumes: number; volume_gb: number };
}

/** How many of the project's objects the superuser sees listed. */
async function listed(kind: 'vms' | 'volumes', projectId: number): Promise<number> {
  const res = await t.http.get(`/api/${kind}/?project_id=${projectId}&page_size=500`, { as: su.session });
  expect(res.statusCode).toBe(200);
  return res.data.count;
}

const vmBody = (projectId: number, flavor = 'de.NBI tiny') => ({ project_id: projectId, image_name: 'Debian-12', flavor_name: flavor, vm_name: unique('q') });
const volumeBody = (projectId: number, storage = 1) => ({ project_id: projectId, name: unique('qv'), storage });

describe('concurrent VM creates', () => {
  it(`${ATTEMPTS} at once against a quota of 3 VMs: exactly 3 × 201 and ${ATTEMPTS - 3} × 409 quota_exceeded`, async () => {
    const { a, project, callerOf } = await crowd({ vms: 3 });
    const res = await together(ATTEMPTS, (i) => t.http.post('/api/vms/', { as: callerOf(i), body: vmBody(project.id) }));
    expect(tally(res)).toEqual({ 201: 3, '409 quota_exceeded': ATTEMPTS - 3 });
    for (const r of res.filter((x) => x.statusCode === 409)) expect(r.data.detail).toMatch(/quota/i);
    expect(await usageOf(a, project.id)).toMatchObject({ vms: 3, cores: 3, ram_gb: 6 });
    expect(await listed('vms', project.id)).toBe(3);
  });

  it('cores: de.NBI small (2 vCPUs) against 7 cores admits exactly 3', async () => {
    const { a, project, callerOf } = await crowd({ cores: 7 });
    const res = await together(ATTEMPTS, (i) => t.http.post('/api/vms/', { as: callerOf(i), body: vmBody(project.id, 'de.NBI small') }));
    expect(tally(res)).toEqual({ 201: 3, '409 quota_exceeded': ATTEMPTS - 3 });
    expect(await usageOf(a, project.id)).toMatchObject({ vms: 3, cores: 6, ram_gb: 12 });
  });

  it('RAM: de.NBI medium (8 GB) against 20 GB admits exactly 2', async () => {
    const { a, project, callerOf } = await crowd({ ram_gb: 20 });
    const res = await together(ATTEMPTS, (i) => t.http.post('/api/vms/', { as: callerOf(i), body: vmBody(project.id, 'de.NBI medium') }));
    expect(tally(res)).toEqual({ 201: 2, '409 quota_exceeded': ATTEMPTS - 2 });
    expect(await usageOf(a, project.id)).toMatchObject({ vms: 2, cores: 8, ram_gb: 16 });
  });

  it('mixed flavors never exceed the cores quota, and every refused create would have exceeded it', async () => {
    const QUOTA = 13;
    const { a, project, callerOf } = await crowd({ cores: QUOTA });
    const flavorOf = (i: number) => FLAVORS[(i * 7) % FLAVORS.length];
    const res = await together(ATTEMPTS, (i) => t.http.post('/api/vms/', { as: callerOf(i), body: vmBody(project.id, flavorOf(i).name) }));
    for (const r of res) expect([201, 409]).toContain(r.statusCode);
    const usage = await usageOf(a, project.id);
    const admitted = res.map((r, i) => ({ r, flavor: flavorOf(i) })).filter(({ r }) => r.statusCode === 201);
    expect(usage.cores).toBeLessThanOrEqual(QUOTA);
    expect(usage.cores).toBe(admitted.reduce((n, { flavor }) => n + flavor.vcpus, 0));
    expect(usage.vms).toBe(admitted.length);
    res.forEach((r, i) => {
      if (r.statusCode === 409) {
        expect(r.data.code).toBe('quota_exceeded');
        // Usage only grew, so a create refused then would not fit now either.
        expect(usage.cores + flavorOf(i).vcpus).toBeGreaterThan(QUOTA);
      }
    });
  });

  it('a deleted VM frees its quota once DELETED', async () => {
    const { a, project } = await crowd({ vms: 1, cores: 1 });
    const vm = await t.factory.vm(a, project.id);
    const refused = await t.http.post('/api/vms/', { as: a.session, body: vmBody(project.id) });
    expect(refused.statusCode).toBe(409);
    expect(refused.data.code).toBe('quota_exceeded');

    expect((await t.http.delete(`/api/vms/${vm.openstack_id}/`, { as: a.session })).statusCode).toBe(202);
    await t.factory.waitFor(a, `/api/vms/${vm.openstack_id}/`, (d) => d.status === 'DELETED');
    expect(await usageOf(a, project.id)).toMatchObject({ vms: 0, cores: 0, ram_gb: 0 });

    // Freed once: of many creates at once, again exactly one fits.
    const res = await together(10, () => t.http.post('/api/vms/', { as: a.session, body: vmBody(project.id) }));
    expect(tally(res)).toEqual({ 201: 1, '409 quota_exceeded': 9 });
    expect(await usageOf(a, project.id)).toMatchObject({ vms: 1, cores: 1 });
  });
});

describe('concurrent volume creates and extends', () => {
  it(`${ATTEMPTS} at once against a quota of 3 volumes: exactly 3 × 201`, async () => {
    const { a, project, callerOf } = await crowd({ volumes: 3 });
    const res = await together(ATTEMPTS, (i) => t.http.post('/api/volumes/', { as: callerOf(i), body: volumeBody(project.id, 2) }));
    expect(tally(res)).toEqual({ 201: 3, '409 quota_exceeded': ATTEMPTS - 3 });
    expect(await usageOf(a, project.id)).toMatchObject({ volumes: 3, volume_gb: 6 });
    expect(await listed('volumes', project.id)).toBe(3);
  });

  it('volume_gb: 3 GB volumes against 10 GB admits exactly 3', async () => {
    const { a, project, callerOf } = await crowd({ volume_gb: 10 });
    const res = await together(ATTEMPTS, (i) => t.http.post('/api/volumes/', { as: callerOf(i), body: volumeBody(project.id, 3) }));
    expect(tally(res)).toEqual({ 201: 3, '409 quota_exceeded': ATTEMPTS - 3 });
    expect(await usageOf(a, project.id)).toMatchObject({ volumes: 3, volume_gb: 9 });
  });

  it('form bodies count the same: storage=4 against 10 GB admits exactly 2', async () => {
    const { a, project, callerOf } = await crowd({ volume_gb: 10 });
    const res = await together(ATTEMPTS, (i) => t.http.post('/api/volumes/', { as: callerOf(i), form: true, body: volumeBody(project.id, 4) }));
    expect(tally(res)).toEqual({ 201: 2, '409 quota_exceeded': ATTEMPTS - 2 });
    expect(await usageOf(a, project.id)).toMatchObject({ volumes: 2, volume_gb: 8 });
  });

  it('concurrent extends of two volumes cannot together exceed volume_gb', async () => {
    const { a, project } = await crowd({ volume_gb: 10 });
    const one = await t.factory.volume(a, project.id, { storage: 2 });
    const two = await t.factory.volume(a, project.id, { storage: 2 });
    // Each extend adds 4 GB to the 4 in use: one fits (8 ≤ 10), a second would make 12.
    const res = await together(ATTEMPTS, (i) =>
      t.http.post(`/api/volumes/${(i % 2 ? one : two).openstack_id}/action/`, { as: a.session, body: { os_action: 'extend', size: 6 } }));
    expect(tally(res)[202]).toBe(1);
    const winner = res.findIndex((r) => r.statusCode === 202) % 2;
    res.forEach((r, i) => {
      if (r.statusCode === 202) return;
      // The other volume's extends no longer fit. The extended one's are no longer larger than it, or
      // (read before the winner committed) count their 4 GB on top of the winner's.
      if (i % 2 !== winner) expect(r.data.code).toBe('quota_exceeded');
      else expect(['400 invalid', '409 quota_exceeded', '409 invalid_state']).toContain(`${r.statusCode} ${r.data.code}`);
    });
    expect(await usageOf(a, project.id)).toMatchObject({ volumes: 2, volume_gb: 8 });
  });

  it('a deleted volume frees its quota once gone', async () => {
    const { a, project } = await crowd({ volumes: 1, volume_gb: 5 });
    const vol = await t.factory.volume(a, project.id, { storage: 5 });
    const refused = await t.http.post('/api/volumes/', { as: a.session, body: volumeBody(project.id) });
    expect(refused.statusCode).toBe(409);
    expect(refused.data.code).toBe('quota_exceeded');
    expect((await t.http.delete(`/api/volumes/${vol.openstack_id}/`, { as: a.session })).statusCode).toBe(202);
    const until = Date.now() + 10_000;
    while ((await t.http.get(`/api/volumes/${vol.openstack_id}/`, { as: a.session })).statusCode !== 404) {
      if (Date.now() > until) throw new Error('volume not deleted in time');
      await new Promise((r) => setTimeout(r, 15));
    }
    expect(await usageOf(a, project.id)).toMatchObject({ volumes: 0, volume_gb: 0 });
    const res = await together(10, () => t.http.post('/api/volumes/', { as: a.session, body: volumeBody(project.id, 5) }));
    expect(tally(res)).toEqual({ 201: 1, '409 quota_exceeded': 9 });
  });
});

describe('concurrent actions on one object', () => {
  it(`${ATTEMPTS} stops of one VM at once: exactly one 202, the rest 409 invalid_state`, async () => {
    const { a, project } = await crowd({});
    const vm = await t.factory.vm(a, project.id);
    const res = await together(ATTEMPTS, () => t.http.post(`/api/vms/${vm.openstack_id}/action/`, { as: a.session, body: { os_action: 'stop' } }));
    expect(tally(res)).toEqual({ 202: 1, '409 invalid_state': ATTEMPTS - 1 });
    await t.factory.waitFor(a, `/api/vms/${vm.openstack_id}/`, (d) => d.status === 'SHUTOFF' && d.task_state === null);
  });

  it(`${ATTEMPTS} deletes of one volume at once: exactly one 202, the rest 409 invalid_state`, async () => {
    const { a, project } = await crowd({});
    const vol = await t.factory.volume(a, project.id);
    const res = await together(ATTEMPTS, () => t.http.delete(`/api/volumes/${vol.openstack_id}/`, { as: a.session }));
    expect(tally(res)).toEqual({ 202: 1, '409 invalid_state': ATTEMPTS - 1 });
    const until = Date.now() + 10_000;
    while ((await t.http.get(`/api/volumes/${vol.openstack_id}/`, { as: a.session })).statusCode !== 404) {
      if (Date.now() > until) throw new Error('volume not deleted in time');
      await new Promise((r) => setTimeout(r, 15));
    }
    expect(await usageOf(a, project.id)).toMatchObject({ volumes: 0, volume_gb: 0 });
  });
});
