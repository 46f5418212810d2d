// The README's API key examples, run with the real `curl` binary against a listening server: with
// a key of the scopes the README's example makes, find the project and the image and flavor names,
// create a VM with form fields (-d) and the key in X-API-KEY, stop it, resume it.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, buildTestApp } from './helpers.js';

const run = promisify(execFile);

let t: TestPortal;
let base: string;
beforeAll(async () => {
  t = await buildTestApp({ SIMPLEVM_RATE_LIMIT: '0' });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
afterAll(() => t.close());

interface CurlReply {
  status: number;
  data: any;
  text: string;
}

/**
 * `curl ARGS…` exactly as a user types it, plus `-sS` (no progress meter) and `-w` to read the
 * status code after the body. No proxy from the environment may get in between.
 */
async function curl(...args: string[]): Promise<CurlReply> {
  const { stdout } = await run('curl', ['-sS', '--max-time', '20', '-w', '\n%{http_code}', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NO_PROXY: '*', no_proxy: '*' },
    timeout: 30_000,
  });
  const cut = stdout.lastIndexOf('\n');
  const text = stdout.slice(0, cut);
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  return { status: Number(stdout.slice(cut + 1)), data, text };
}

/** Polls with curl until the VM is in `status` with no task running. */
async function waitForStatus(url: string, key: string, status: string): Promise<any> {
  const until = Date.now() + 15_000;
  let last: CurlReply | null = null;
  while (Date.now() < until) {
    last = await curl(url, '-H', `X-API-KEY: ${key}`);
    if (last.status === 200 && last.data.status === status && last.data.task_state === null) return last.data;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`VM never reached ${status}: ${last?.text}`);
}

/** The scopes of the README's example key (`curl … /api/keys/ -d name=my-script -d scopes=…`). */
function readmeKeyScopes(): string[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const line = readme.split('\n').find((l) => l.includes('-d name=my-script'));
  if (!line) throw new Error('the README has no example key (-d name=my-script)');
  return [...line.matchAll(/-d scopes=(\S+)/g)].map((m) => m[1]);
}

describe('the README curl examples', () => {
  it("the README's example key finds the project and the names it needs, then creates a VM, stops it and resumes it", async () => {
    const user = await t.factory.user();
    const project = await t.factory.project({ members: [user] });
    const scopes = readmeKeyScopes();
    expect(scopes).toEqual(expect.arrayContaining(['project:read', 'vm:read', 'vm:create', 'vm:change_state']));
    const { key } = await t.factory.key(user, { scopes });

    // The README's next step: `GET /api/projects/` gives your project ids, `…/images/` and `…/flavors/` the names.
    const projects = await curl(`${base}/api/projects/`, '-H', `X-API-KEY: ${key}`);
    expect(projects.status, projects.text).toBe(200);
    expect(projects.data.map((p: { id: number }) => p.id)).toEqual([project.id]);
    const images = await curl(`${base}/api/projects/${project.id}/images/`, '-H', `X-API-KEY: ${key}`);
    expect(images.status, images.text).toBe(200);
    expect(images.data.map((i: { name: string }) => i.name)).toContain('Ubuntu-22.04');
    const flavors = await curl(`${base}/api/projects/${project.id}/flavors/`, '-H', `X-API-KEY: ${key}`);
    expect(flavors.status, flavors.text).toBe(200);
    expect(flavors.data.map((f: { name: string }) => f.name)).toContain('de.NBI tiny');

    // curl -X POST $PORTAL/api/vms/ -H "X-API-KEY: $KEY" \
    //   -d project_id=1 -d image_name=Ubuntu-22.04 -d "flavor_name=de.NBI tiny" -d vm_name=analysis-1
    const created = await curl(
      '-X', 'POST', `${base}/api/vms/`,
      '-H', `X-API-KEY: ${key}`,
      '-d', `project_id=${project.id}`, '-d', 'image_name=Ubuntu-22.04', '-d', 'flavor_name=de.NBI tiny', '-d', 'vm_name=analysis-1',
    );
    expect(created.status, created.text).toBe(201);
    expect(created.data).toMatchObject({
      name: 'analysis-1', project_id: project.id, owner: user.username, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny',
      status: 'BUILD', task_state: 'spawning',
    });
    expect(created.data.openstack_id).toEqual(expect.any(String));
    const url = `${base}/api/vms/${created.data.openstack_id}/`;
    const active = await waitForStatus(url, key, 'ACTIVE');
    expect(active.fixed_ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    // curl -X POST $PORTAL/api/vms/$VM/action/ -H "X-API-KEY: $KEY" -d os_action=stop
    const stop = await curl('-X', 'POST', `${url}action/`, '-H', `X-API-KEY: ${key}`, '-d', 'os_action=stop');
    expect(stop.status, stop.text).toBe(202);
    expect(stop.data).toMatchObject({ openstack_id: created.data.openstack_id, status: 'ACTIVE', task_state: 'powering-off' });
    await waitForStatus(url, key, 'SHUTOFF');

    // curl -X POST $PORTAL/api/vms/$VM/action/ -H "X-API-KEY: $KEY" -d os_action=resume
    const resume = await curl('-X', 'POST', `${url}action/`, '-H', `X-API-KEY: ${key}`, '-d', 'os_action=resume');
    expect(resume.status, resume.text).toBe(202);
    expect(resume.data).toMatchObject({ openstack_id: created.data.openstack_id, status: 'SHUTOFF', task_state: 'powering-on' });
    const resumed = await waitForStatus(url, key, 'ACTIVE');
    expect(resumed.name).toBe('analysis-1');
  });

  it('answer curl with JSON errors: a wrong action, a missing scope, a bad key, no key', async () => {
    const user = await t.factory.user();
    const project = await t.factory.project({ members: [user] });
    const { key } = await t.factory.key(user, { scopes: ['vm:read', 'vm:create', 'vm:change_state'] });
    const vm = await t.factory.vm(user, project.id);
    const url = `${base}/api/vms/${vm.openstack_id}/`;

    const resumeActive = await curl('-X', 'POST', `${url}action/`, '-H', `X-API-KEY: ${key}`, '-d', 'os_action=resume');
    expect(resumeActive.status).toBe(409);
    expect(resumeActive.data.code).toBe('invalid_state');
    const unknown = await curl('-X', 'POST', `${url}action/`, '-H', `X-API-KEY: ${key}`, '-d', 'os_action=fly');
    expect(unknown.status).toBe(400);
    expect(unknown.data).toMatchObject({ code: 'invalid', errors: { os_action: expect.any(Array) } });
    const del = await curl('-X', 'DELETE', url, '-H', `X-API-KEY: ${key}`);
    expect(del.status).toBe(403);
    expect(del.data.code).toBe('insufficient_scope');
    expect(del.data.detail).toContain('vm:delete');
    const bad = await curl(url, '-H', `X-API-KEY: ${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`);
    expect(bad.status).toBe(401);
    expect(bad.data.code).toBe('not_authenticated');
    const none = await curl(url);
    expect(none.status).toBe(401);
    // The same key as a bearer token, and the header name in lower case.
    const bearer = await curl(url, '-H', `Authorization: Bearer ${key}`);
    expect(bearer.status).toBe(200);
    const lower = await curl(url, '-H', `x-api-key: ${key}`);
    expect(lower.data.openstack_id).toBe(vm.openstack_id);
  });
});
