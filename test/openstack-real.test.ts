// The portal against real OpenStack services (issue 20): what only the real cloud can show, beside
// the behaviour suite (test/openstack-behaviour.test.ts, which runs against it too). Runs only in
// `npm run test:openstack` (SIMPLEVM_TEST_OPENRC names the openrc of scripts/openstack-dev.sh), one
// file at a time: some tests stop Keystone or nova-compute for a while.
//
// - SimpleVM's documented curl lines (examples/simplevm-docs-curl.sh) through a listening portal;
// - the portal killed mid-create and started again: the server exists once in Nova's own list;
// - the portal's credentials are a member's application credential, not an admin's;
// - faults: nova-compute stopped mid-action (the VM ends ERROR or completes, never stuck),
//   Keystone down at start (one clear line), a token that ends before its time (renewed).
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, type TestUser, buildTestApp, unique } from './helpers.js';
import { ApiClient, freshProcessDatabase, startServer, tempDir } from './process.js';
import { CloudAdmin, REAL_OPENRC, cloudServices, realCloudEnv, until } from './real-openstack.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MINUTE = 60_000;

describe.skipIf(!REAL_OPENRC)('against real OpenStack (skipped: runs in npm run test:openstack)', () => {
  let admin: CloudAdmin;
  let t: TestPortal;
  let user: TestUser;
  let projectId: number;

  beforeAll(async () => {
    admin = new CloudAdmin();
    t = await buildTestApp(realCloudEnv());
    t.factory.waitMs = MINUTE;
    user = await t.factory.user();
    projectId = (await t.factory.project({ members: [user] })).id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('runs SimpleVM\'s documented curl lines to their end through a listening portal', async () => {
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as AddressInfo;
    const { key } = await t.factory.key(user, { project_id: projectId });
    const result = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('sh', [path.join(ROOT, 'examples', 'simplevm-docs-curl.sh')], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SCHEME: 'http', HOST: `127.0.0.1:${port}`, KEY: key, PROJECT_ID: String(projectId), VM_NAME: unique('docs') },
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('exit', (code) => resolve({ code, out }));
    });
    expect(result.code, result.out).toBe(0);
    // The VM the script made is in Nova, once, tagged with the portal's id.
    const vms = (await t.http.get(`/api/vms/?project_id=${projectId}`, { as: user.session })).data.results as { openstack_id: string; status: string }[];
    expect(vms.length).toBeGreaterThan(0);
    for (const vm of vms) expect(await admin.serversTagged(vm.openstack_id)).toHaveLength(1);
  }, 5 * MINUTE);

  it('works with a member\'s application credential: no admin role behind the portal', async () => {
    const env = realCloudEnv();
    expect(env.OS_AUTH_TYPE).toBe('v3applicationcredential');
    const users = await admin.call('identity', 'GET', '/users?name=simplevm');
    const owner = users.data.users[0].id as string;
    const cred = await admin.call('identity', 'GET', `/users/${owner}/application_credentials/${env.OS_APPLICATION_CREDENTIAL_ID}`);
    expect(cred.status).toBe(200);
    const roles = cred.data.application_credential.roles.map((r: { name: string }) => r.name);
    expect(roles).toContain('member');
    expect(roles).not.toContain('admin');
  });

  it('makes a VM once when the portal is killed mid-create and started again', async () => {
    const dir = tempDir('simplevm-real-crash-');
    const db = await freshProcessDatabase(dir.dir, 'crash');
    const env = { ...realCloudEnv(), DATABASE_URL: db.url, SIMPLEVM_RATE_LIMIT: '0', SIMPLEVM_AUTH_FAIL_LIMIT: '0' };
    let server = await startServer(env, { timeoutMs: 2 * MINUTE });
    try {
      const password = /First start: created superuser \\?"admin\\?" with password (\S+) and project/.exec(server.stdout())?.[1];
      expect(password).toBeTruthy();
      let api = new ApiClient(server.url);
      expect((await api.login('admin', password!)).status).toBe(200);
      const project = (await api.get('/api/projects/')).data.find((p: { name: string }) => p.name === 'demo').id;
      const created = await api.post('/api/vms/', { project_id: project, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: unique('crash') });
      expect(created.status).toBe(201);
      const id = created.data.openstack_id as string;
      // Killed the moment Nova has the server: before the portal can have recorded Nova's answer.
      await until('Nova to have the server', async () => (await admin.serversTagged(id)).length > 0, MINUTE);
      await server.stop('SIGKILL');

      server = await startServer(env, { timeoutMs: 2 * MINUTE });
      api = new ApiClient(server.url);
      expect((await api.login('admin', password!)).status).toBe(200);
      const vm = await api.waitFor(`/api/vms/${id}/`, (d) => d.status === 'ACTIVE' && d.task_state === null, 2 * MINUTE);
      expect(vm.fixed_ip).toMatch(/^192\.168\.10\.\d+$/);
      const servers = await admin.serversTagged(id);
      expect(servers).toHaveLength(1);
      expect(servers[0].status).toBe('ACTIVE');
    } finally {
      await server.stop();
      await db.drop();
      dir.remove();
    }
  }, 6 * MINUTE);

  it('renews a token that Keystone ended before its time, and the action goes through', async () => {
    // The portal reaches Keystone through a pass-through on 127.0.0.1 that notes each token it is given.
    const tokens: string[] = [];
    const target = new URL(admin.authUrl);
    const relay = http.createServer((req, res) => {
      const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
        const token = answer.headers['x-subject-token'];
        if (req.method === 'POST' && req.url?.endsWith('/auth/tokens') && typeof token === 'string') tokens.push(token);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const relayed = await buildTestApp({ ...realCloudEnv(), OS_AUTH_URL: `http://127.0.0.1:${(relay.address() as AddressInfo).port}${target.pathname}` });
    relayed.factory.waitMs = MINUTE;
    try {
      const owner = await relayed.factory.user();
      const pid = (await relayed.factory.project({ members: [owner] })).id;
      const vm = await relayed.factory.vm(owner, pid);
      expect(tokens.length).toBeGreaterThan(0);
      const before = tokens.length;
      expect(await admin.revokeToken(tokens[tokens.length - 1])).toBe(204);
      // Nova trusts a token it has checked for 5 s (scripts/openstack-dev.sh): after that it asks Keystone again.
      await new Promise((r) => setTimeout(r, 6000));

      const stop = await relayed.http.post(`/api/vms/${vm.openstack_id}/action/`, { as: owner.session, body: { os_action: 'stop' } });
      expect(stop.statusCode).toBe(202);
      await relayed.factory.waitFor(owner, `/api/vms/${vm.openstack_id}/`, (d) => d.status === 'SHUTOFF' && d.task_state === null);
      expect(tokens.length).toBeGreaterThan(before);
    } finally {
      await relayed.close();
      await new Promise((r) => relay.close(r));
    }
  }, 4 * MINUTE);

  it('ends an action that nova-compute never carries out in ERROR, not stuck, and recovers when it is back', async () => {
    const timeoutMs = 10_000;
    const short = await buildTestApp({ ...realCloudEnv(), SIMPLEVM_OS_TIMEOUT_MS: String(timeoutMs) });
    short.factory.waitMs = MINUTE;
    try {
      const owner = await short.factory.user();
      const pid = (await short.factory.project({ members: [owner] })).id;
      const vm = await short.factory.vm(owner, pid);
      const url = `/api/vms/${vm.openstack_id}/`;
      await cloudServices('stop', 'nova-compute');
      try {
        const stop = await short.http.post(`${url}action/`, { as: owner.session, body: { os_action: 'stop' } });
        expect(stop.statusCode).toBe(202);
        const ended = await short.factory.waitFor(owner, url, (d) => d.task_state === null, timeoutMs + MINUTE);
        expect(ended.status).toBe('ERROR');
        expect(ended.fault).toBeTruthy();
      } finally {
        await cloudServices('start', 'nova-compute');
      }
      await until('nova-compute to be up again', () => admin.computeUp(), 2 * MINUTE);
      // Once the host is back, the VM in ERROR can be deleted, in the portal and in Nova. (Nova's
      // fake hypervisor forgets its guests when nova-compute restarts: nothing else is asked of it.)
      expect((await short.http.delete(url, { as: owner.session })).statusCode).toBe(202);
      await short.factory.waitFor(owner, url, (d) => d.status === 'DELETED');
      await until('Nova to drop the server', async () => (await admin.serversTagged(vm.openstack_id)).length === 0, MINUTE);
    } finally {
      await short.close();
    }
  }, 8 * MINUTE);

  it('refuses to start while Keystone is down, with one line that says so', async () => {
    await cloudServices('stop', 'keystone');
    try {
      const dir = tempDir('simplevm-real-keystone-');
      const db = await freshProcessDatabase(dir.dir, 'keystone');
      try {
        const started = startServer({ ...realCloudEnv(), DATABASE_URL: db.url, SIMPLEVM_OS_REQUEST_TIMEOUT_MS: '2000' }, { timeoutMs: MINUTE });
        const err = await started.then(() => null, (e: Error) => e);
        expect(err).not.toBeNull();
        // What the server printed on stderr: that one line, nothing else.
        expect(err!.message).toMatch(/; stderr: simplevm: Keystone POST \/auth\/tokens could not be reached [^\n]*\n?; stdout: /);
      } finally {
        await db.drop();
        dir.remove();
      }
    } finally {
      await cloudServices('start', 'keystone');
      await until('Keystone to answer again', async () => (await admin.login()).length > 0, MINUTE);
    }
  }, 4 * MINUTE);
});
