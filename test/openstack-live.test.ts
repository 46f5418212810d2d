// A live smoke test on a real OpenStack cloud (issue 6). It runs only when OS_AUTH_URL is set,
// and then needs the usual OS_* variables (an application credential, or user, password and
// project) and SIMPLEVM_OS_NETWORK; optionally SIMPLEVM_LIVE_IMAGE and SIMPLEVM_LIVE_FLAVOR (else
// the first image and the smallest flavor the portal offers). It starts the real `simplevm serve`
// as a child process on 127.0.0.1 with SIMPLEVM_CLOUD=openstack (the child, not this test process,
// talks to the cloud; tests themselves never leave this machine), and creates, stops, resumes and
// deletes one server named simplevm-smoke-<time> through the portal's HTTP API. It cleans up after
// itself even when a step fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, type ServerProcess, freshProcessDatabase, startServer, tempDir } from './process.js';

const live = Boolean(process.env.OS_AUTH_URL);
const STEP_MS = 10 * 60_000;

/** The cloud's settings, handed to the child as they are. */
function cloudEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && (k.startsWith('OS_') || k.startsWith('SIMPLEVM_OS_'))) env[k] = v;
  }
  return env;
}

describe.skipIf(!live)('live OpenStack smoke test (skipped: runs only when OS_AUTH_URL and the other OS_* variables are set)', () => {
  let dir: ReturnType<typeof tempDir> | null = null;
  let server: ServerProcess;
  let drop: () => Promise<void> = async () => {};
  const api = (s: ServerProcess) => new ApiClient(s.url);
  let client: ApiClient;
  let vmUrl: string | null = null;

  beforeAll(async () => {
    dir = tempDir('simplevm-live-');
    const db = await freshProcessDatabase(dir.dir, 'live');
    drop = db.drop;
    server = await startServer({
      ...cloudEnv(),
      SIMPLEVM_CLOUD: 'openstack',
      DATABASE_URL: db.url,
      SIMPLEVM_RATE_LIMIT: '0',
      SIMPLEVM_AUTH_FAIL_LIMIT: '0',
      SIMPLEVM_OS_POLL_MS: process.env.SIMPLEVM_OS_POLL_MS ?? '3000',
    }, { timeoutMs: 120_000 });
    const password = /First start: created superuser \\?"admin\\?" with password (\S+) and project/.exec(server.stdout())?.[1];
    if (!password) throw new Error(`no first-start password in the log: ${server.stdout().slice(0, 2000)}`);
    client = api(server);
    expect((await client.login('admin', password)).status).toBe(200);
  }, 180_000);

  afterAll(async () => {
    try {
      if (client && vmUrl) {
        const vm = await client.get(vmUrl);
        if (vm.status === 200 && vm.data.status !== 'DELETED') {
          await client.waitFor(vmUrl, (d) => d.task_state === null, STEP_MS).catch(() => undefined);
          await client.delete(vmUrl);
          await client.waitFor(vmUrl, (d) => d.status === 'DELETED', STEP_MS).catch(() => undefined);
        }
      }
    } finally {
      await server?.stop();
      await drop();
      dir?.remove();
    }
  }, 2 * STEP_MS + 60_000);

  it('creates, stops, resumes and deletes one server', async () => {
    const projects = await client.get('/api/projects/');
    const demo = projects.data.find((p: { name: string }) => p.name === 'demo');
    expect(demo).toBeDefined();
    const flavors: { name: string; vcpus: number; ram_gb: number }[] = (await client.get(`/api/projects/${demo.id}/flavors/`)).data;
    const images: { name: string }[] = (await client.get(`/api/projects/${demo.id}/images/`)).data;
    const flavor = process.env.SIMPLEVM_LIVE_FLAVOR ?? [...flavors].sort((a, b) => a.vcpus - b.vcpus || a.ram_gb - b.ram_gb)[0]?.name;
    const image = process.env.SIMPLEVM_LIVE_IMAGE ?? images[0]?.name;
    expect(flavor, 'the cloud offers no flavor').toBeTruthy();
    expect(image, 'the cloud offers no image').toBeTruthy();

    const created = await client.post('/api/vms/', { project_id: demo.id, image_name: image, flavor_name: flavor, vm_name: `simplevm-smoke-${Date.now()}` });
    expect(created.status, JSON.stringify(created.data)).toBe(201);
    vmUrl = `/api/vms/${created.data.openstack_id}/`;
    const settled = (d: { task_state: string | null }) => d.task_state === null;

    expect(await client.waitFor(vmUrl, settled, STEP_MS)).toMatchObject({ status: 'ACTIVE', fault: null });
    expect((await client.post(`${vmUrl}action/`, { os_action: 'stop' })).status).toBe(202);
    expect(await client.waitFor(vmUrl, settled, STEP_MS)).toMatchObject({ status: 'SHUTOFF' });
    expect((await client.post(`${vmUrl}action/`, { os_action: 'resume' })).status).toBe(202);
    expect(await client.waitFor(vmUrl, settled, STEP_MS)).toMatchObject({ status: 'ACTIVE' });
    expect((await client.delete(vmUrl)).status).toBe(202);
    expect(await client.waitFor(vmUrl, settled, STEP_MS)).toMatchObject({ status: 'DELETED' });
  }, 5 * STEP_MS);
});
