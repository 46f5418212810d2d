// Issue 15, spec §8: scripts written for today's SimpleVM run unchanged. SimpleVM's user
// documentation (deNBI/simplevm-user-docs, wiki/simple_vm/user_api_keys.md) shows its API as curl
// lines; examples/simplevm-docs-curl.sh holds them with the placeholders as shell variables. Here
// the script's lines are first held to the documentation's text, then run one by one, in order,
// through `sh` and the real `curl` binary against a listening portal, with a key bound to one
// project and every scope, waiting between steps as a script would (polling GET with curl), and
// each answer's status and key fields checked; last, the whole script runs to its end.
//
// The documentation's research-environment VM create (a JSON file with
// `research_environment_backend`) is replayed by its own test at the end.
import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedProvider } from '../src/server/cloud/simulated/simulated.provider.js';
import { type TestPortal, type TestUser, buildTestApp, unique } from './helpers.js';
import { tempDir } from './process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = path.join(ROOT, 'examples', 'simplevm-docs-curl.sh');

/**
 * The documentation's lines (deNBI/simplevm-user-docs, wiki/simple_vm/user_api_keys.md), in its
 * order, with its placeholders named as the script's variables: `simplevm.denbi.de` → HOST,
 * YOUR_API_KEY → KEY, YOUR_PROJECT_ID → PROJECT_ID, YOUR_VM_UUID → VM_ID, YOUR_VOLUME_UUID →
 * VOLUME_ID, YOUR_IMAGE_NAME → IMAGE_NAME, …; YOUR_VOLUME_STORAGE and EXTEND_SIZE are 1 and 2.
 * Left out: its generic "any other action on a volume" line (a template, not a call); the
 * research-environment create (a JSON file) is replayed by its own test below.
 */
const DOCS = [
  'curl -X GET https://HOST/portal/api/projects/by-api-key/ -H "X-API-KEY: KEY"',
  'curl -X GET https://HOST/portal/api/projects/PROJECT_ID/flavors/ -H "X-API-KEY: KEY"',
  'curl -X GET https://HOST/portal/api/projects/PROJECT_ID/images/ -H "X-API-KEY: KEY"',
  'curl -X GET https://HOST/portal/api/vms/by-api-key/ -H "X-API-KEY: KEY"',
  'curl -X GET https://HOST/portal/api/projects/PROJECT_ID/snapshots/images/ -H "X-API-KEY: KEY"',
  'curl -X GET https://HOST/portal/api/volumes/by-api-key/ -H "X-API-KEY: KEY"',
  "curl -X POST https://HOST/portal/api/volumes/ -H \"X-API-KEY: KEY\" -d 'project_id=PROJECT_ID' -d 'storage=1' -d 'name=VOLUME_NAME'",
  'curl -X DELETE https://HOST/portal/api/volumes/VOLUME_ID/ -H "X-API-KEY: KEY"',
  "curl -X POST https://HOST/portal/api/volumes/VOLUME_ID/action/ -H \"X-API-KEY: KEY\" -d 'os_action=attach' -d 'vm_uuid=VM_ID'",
  "curl -X POST https://HOST/portal/api/volumes/VOLUME_ID/action/ -H \"X-API-KEY: KEY\" -d 'os_action=detach'",
  "curl -X POST https://HOST/portal/api/volumes/VOLUME_ID/action/ -H \"X-API-KEY: KEY\" -d 'os_action=extend' -d 'size=2'",
  "curl -X POST https://HOST/portal/api/vms/ -d 'project_id=PROJECT_ID' -d 'image_name=IMAGE_NAME' -d 'flavor_name=FLAVOR_NAME' -d 'vm_name=VM_NAME' -H \"X-API-KEY: KEY\"",
  "curl -X POST https://HOST/portal/api/vms/VM_ID/action/ -d 'os_action=stop' -H \"X-API-KEY: KEY\"",
  "curl -X POST https://HOST/portal/api/vms/VM_ID/action/ -d 'os_action=resume' -H \"X-API-KEY: KEY\"",
];

/** The variables the script's curl lines use. */
const VARIABLES = ['SCHEME', 'HOST', 'KEY', 'PROJECT_ID', 'IMAGE_NAME', 'FLAVOR_NAME', 'VM_NAME', 'VOLUME_NAME', 'VM_ID', 'VOLUME_ID'] as const;
type Vars = Record<(typeof VARIABLES)[number], string>;

/**
 * The script's curl lines: those written `curl -X …` (its own polling calls are not), without a
 * command substitution around them (`VM=$(curl -X POST …)`).
 */
function scriptCurlLines(): string[] {
  return readFileSync(SCRIPT, 'utf8')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .flatMap((line) => {
      const at = line.indexOf('curl -X ');
      if (at < 0) return [];
      const command = line.slice(at);
      return [line.slice(0, at).endsWith('$(') ? command.replace(/\)$/, '') : command];
    });
}

const tmp = tempDir('simplevm-docs-curl-');
const run = promisify(execFile);

/**
 * Runs `command` with sh, as the script does: the shell quotes and expands it, with only `env`
 * set (no proxy from the environment may get in between, and no ~/.curlrc of this machine).
 */
function sh(command: string, env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp.dir, NO_PROXY: '*', no_proxy: '*', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The words sh makes of a curl line's arguments with `vars` set: what curl is given. */
async function curlArguments(line: string, vars: Record<string, string>): Promise<string[]> {
  expect(line.startsWith('curl ')).toBe(true);
  const { code, stdout, stderr } = await sh(`printf '%s\\n' ${line.slice('curl '.length)}`, vars);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  return stdout.split('\n').slice(0, -1);
}

interface CurlReply {
  status: number;
  data: any;
  text: string;
}

function reply(stdout: string): CurlReply {
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

/** One of the script's lines, unchanged, plus `-sS` (no progress meter) and `-w` to read the status after the body. */
async function replay(line: string, vars: Vars): Promise<CurlReply> {
  const { code, stdout, stderr } = await sh(`${line} -sS --max-time 20 -w '\\n%{http_code}'`, vars);
  expect({ line, code, stderr }).toEqual({ line, code: 0, stderr: '' });
  return reply(stdout);
}

/** Polls a GET with curl, as the script's wait_for does, until `done` holds for its answer. */
async function waitFor(url: string, key: string, done: (r: CurlReply) => boolean): Promise<CurlReply> {
  const until = Date.now() + 15_000;
  let last: CurlReply | null = null;
  while (Date.now() < until) {
    const { stdout } = await run('curl', ['-sS', '--max-time', '20', '-w', '\n%{http_code}', url, '-H', `X-API-KEY: ${key}`], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp.dir, NO_PROXY: '*', no_proxy: '*' },
      timeout: 30_000,
    });
    last = reply(stdout);
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${url} never got there; last answer: ${last?.status} ${last?.text}`);
}

let t: TestPortal;
let host: string;
let user: TestUser;
/** The project the key is bound to, and another of the user's projects the key must not reach. */
let project: { id: number; name: string };
let other: { id: number; name: string };
/** What was in the project before the script ran: a VM, and an active snapshot of it; and a VM in the other project. */
let vmBefore: string;
let vmElsewhere: string;
let snapshot: { openstack_id: string; name: string };
let key: string;

beforeAll(async () => {
  t = await buildTestApp();
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  host = `127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  user = await t.factory.user();
  project = await t.factory.project({ members: [user] });
  other = await t.factory.project({ members: [user] });
  const [a, b] = await Promise.all([t.factory.vm(user, project.id), t.factory.vm(user, other.id)]);
  vmBefore = a.openstack_id;
  vmElsewhere = b.openstack_id;
  const name = unique('snap');
  const snap = await t.http.post('/api/snapshots/', { as: user.session, body: { snapshot_instance: vmBefore, snapshot_name: name } });
  expect(snap.statusCode, snap.body).toBe(202);
  await t.factory.waitFor(user, `/api/projects/${project.id}/snapshots/`, (list: { openstack_id: string; status: string }[]) =>
    list.some((s) => s.openstack_id === snap.data.openstack_id && s.status === 'active'));
  snapshot = { openstack_id: snap.data.openstack_id, name };
  // As the documentation has it: a key bound to the project, with every scope (the factory's default).
  key = (await t.factory.key(user, { project_id: project.id })).key;
}, 60_000);

afterAll(async () => {
  await t?.close();
  tmp.remove();
});

describe('SimpleVM\'s documented curl lines (examples/simplevm-docs-curl.sh)', { timeout: 60_000 }, () => {
  it('the script holds each of the documentation\'s lines once, with the placeholders as variables', async () => {
    const lines = scriptCurlLines();
    const placeholders = Object.fromEntries(VARIABLES.map((v) => [v, v === 'SCHEME' ? 'https' : v]));
    // The script runs them in the order a script must (a volume is deleted after it was attached),
    // the documentation lists them by topic: the same lines, each once.
    const byText = (argv: string[][]) => argv.map((a) => JSON.stringify(a)).sort();
    const asDocumented = await Promise.all(lines.map((line) => curlArguments(line, placeholders)));
    const documented = await Promise.all(DOCS.map((line) => curlArguments(line, {})));
    expect(byText(asDocumented)).toEqual(byText(documented));
  });

  it('each line, run with curl in order, answers as on SimpleVM', async () => {
    const lines = scriptCurlLines();
    const vars: Vars = {
      SCHEME: 'http', HOST: host, KEY: key, PROJECT_ID: String(project.id), IMAGE_NAME: 'Ubuntu-22.04', FLAVOR_NAME: 'de.NBI tiny',
      VM_NAME: 'docs-vm', VOLUME_NAME: 'docs-volume', VM_ID: '', VOLUME_ID: '',
    };
    let step = 0;
    const next = () => replay(lines[step++], vars);
    const api = `http://${host}/portal/api`;

    // GET …/projects/by-api-key/: the key is bound to one project, so just that one.
    const projects = await next();
    expect(projects.status, projects.text).toBe(200);
    expect(projects.data).toEqual([expect.objectContaining({ id: project.id, name: project.name, role: 'member' })]);

    // GET …/projects/PROJECT_ID/flavors/, …/images/ (…/snapshots/images/ below, as the documentation lists it)
    const flavors = await next();
    expect(flavors.status, flavors.text).toBe(200);
    expect(flavors.data).toContainEqual({ name: 'de.NBI tiny', vcpus: 1, ram_gb: 2, disk_gb: 20 });
    const images = await next();
    expect(images.status, images.text).toBe(200);
    expect(images.data.map((i: { name: string }) => i.name)).toEqual(expect.arrayContaining(['Ubuntu-22.04', 'Ubuntu-24.04', snapshot.name]));
    // GET …/vms/by-api-key/: a page of the VMs the key reaches, not the one in the other project.
    const vms = await next();
    expect(vms.status, vms.text).toBe(200);
    expect(vms.data).toMatchObject({ count: 1, results: [{ openstack_id: vmBefore, project_id: project.id, status: 'ACTIVE' }] });
    expect(vms.text).not.toContain(vmElsewhere);

    const snapshots = await next();
    expect(snapshots.status, snapshots.text).toBe(200);
    expect(snapshots.data).toEqual([expect.objectContaining({ ...snapshot, project_id: project.id, vm_openstack_id: vmBefore, status: 'active' })]);

    // GET …/volumes/by-api-key/: a page of the volumes the key reaches (none yet).
    const volumes = await next();
    expect(volumes.status, volumes.text).toBe(200);
    expect(volumes.data).toMatchObject({ count: 0, next: null, previous: null, results: [] });

    // POST …/vms/ with form fields; then wait until it runs.
    const created = await next();
    expect(created.status, created.text).toBe(201);
    expect(created.data).toMatchObject({
      name: 'docs-vm', project_id: project.id, owner: user.username, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', status: 'BUILD',
    });
    vars.VM_ID = created.data.openstack_id;
    expect(vars.VM_ID).toEqual(expect.any(String));
    const vmUrl = `${api}/vms/${vars.VM_ID}/`;
    const settled = (status: string) => (r: CurlReply) => r.status === 200 && r.data.status === status && r.data.task_state === null;
    expect((await waitFor(vmUrl, key, settled('ACTIVE'))).data.fixed_ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    // POST …/vms/VM_ID/action/ os_action=stop, then resume.
    const stop = await next();
    expect(stop.status, stop.text).toBe(202);
    expect(stop.data).toMatchObject({ openstack_id: vars.VM_ID, status: 'ACTIVE', task_state: 'powering-off' });
    await waitFor(vmUrl, key, settled('SHUTOFF'));
    const resume = await next();
    expect(resume.status, resume.text).toBe(202);
    expect(resume.data).toMatchObject({ openstack_id: vars.VM_ID, status: 'SHUTOFF', task_state: 'powering-on' });
    await waitFor(vmUrl, key, settled('ACTIVE'));

    // POST …/volumes/ storage=1; then wait until it is available.
    const volume = await next();
    expect(volume.status, volume.text).toBe(201);
    expect(volume.data).toMatchObject({ name: 'docs-volume', project_id: project.id, owner: user.username, storage: 1, status: 'creating', attached_to: null });
    vars.VOLUME_ID = volume.data.openstack_id;
    expect(vars.VOLUME_ID).toEqual(expect.any(String));
    const volumeUrl = `${api}/volumes/${vars.VOLUME_ID}/`;
    const volumeIs = (status: string) => (r: CurlReply) => r.status === 200 && r.data.status === status;
    await waitFor(volumeUrl, key, volumeIs('available'));

    // POST …/volumes/VOLUME_ID/action/ attach with SimpleVM's vm_uuid, then detach, then extend to 2 GB.
    const attach = await next();
    expect(attach.status, attach.text).toBe(202);
    expect(attach.data).toMatchObject({ openstack_id: vars.VOLUME_ID, status: 'attaching' });
    const attached = await waitFor(volumeUrl, key, volumeIs('in-use'));
    expect(attached.data).toMatchObject({ attached_to: vars.VM_ID, device: expect.any(String) });
    expect((await waitFor(vmUrl, key, settled('ACTIVE'))).data.volumes).toEqual([vars.VOLUME_ID]);

    const detach = await next();
    expect(detach.status, detach.text).toBe(202);
    expect(detach.data).toMatchObject({ openstack_id: vars.VOLUME_ID, status: 'detaching' });
    expect((await waitFor(volumeUrl, key, volumeIs('available'))).data).toMatchObject({ attached_to: null, device: null });

    const extend = await next();
    expect(extend.status, extend.text).toBe(202);
    expect(extend.data).toMatchObject({ openstack_id: vars.VOLUME_ID, status: 'extending' });
    await waitFor(volumeUrl, key, (r) => volumeIs('available')(r) && r.data.storage === 2);

    // DELETE …/volumes/VOLUME_ID/: once it is gone, GET answers 404.
    const removed = await next();
    expect(removed.status, removed.text).toBe(202);
    expect(removed.data).toMatchObject({ openstack_id: vars.VOLUME_ID, status: 'deleting' });
    const gone = await waitFor(volumeUrl, key, (r) => r.status === 404);
    expect(gone.data).toMatchObject({ code: 'not_found', detail: expect.any(String) });

    // Every line of the documentation ran.
    expect(step).toBe(lines.length);
    expect(step).toBe(DOCS.length);
  });

  it('the whole script runs to its end against the portal', async () => {
    const env = {
      SCHEME: 'http', HOST: host, KEY: key, PROJECT_ID: String(project.id), VM_NAME: 'docs-script-vm', VOLUME_NAME: 'docs-script-volume',
      POLL_SECONDS: '0.05', POLL_TRIES: '400',
    };
    const result = await sh(`sh ${JSON.stringify(SCRIPT)}`, env, 50_000);
    expect({ code: result.code, gaveUp: result.stderr.includes('Gave up') }, result.stdout + result.stderr).toEqual({ code: 0, gaveUp: false });
    const done = /^# Done: VM (\S+) runs on; volume (\S+) is deleted\.$/m.exec(result.stdout);
    expect(done, result.stdout).not.toBeNull();
    const [, vmId, volumeId] = done!;
    expect((await t.http.get(`/api/vms/${vmId}/`, { as: user.session })).data).toMatchObject({ name: 'docs-script-vm', status: 'ACTIVE', project_id: project.id });
    expect((await t.http.get(`/api/volumes/${volumeId}/`, { as: user.session })).statusCode).toBe(404);
  });
});

describe('the research-environment VM create', () => {
  it('runs as the documentation writes it (a JSON file, template from resenv_template_name), and as the API tutorial does (form fields)', async () => {
    const images = (await t.http.get(`/api/projects/${project.id}/images/`, { as: { key } })).data as { name: string; resenv_template_name: string | null }[];
    const image = images.find((i) => i.resenv_template_name !== null);
    expect(image).toBeDefined();
    // The documentation's file, its placeholders filled in.
    const file = path.join(tmp.dir, 'resenv-vm.json');
    writeFileSync(file, JSON.stringify({
      project_id: project.id, image_name: image!.name, flavor_name: 'de.NBI tiny', vm_name: 'resenv-doc',
      research_environment_backend: { create_only: true, template: image!.resenv_template_name, user_path: 'mypath' },
    }, null, 4));
    // The documentation's line (its `portak` typo read as portal).
    const docs = `curl -H 'Content-Type: application/json' -X POST http://${host}/portal/api/vms/ -d '@${file}' -H "X-API-KEY: ${key}"`;
    const made = reply((await sh(`${docs} -sS --max-time 20 -w '\\n%{http_code}'`, {})).stdout);
    expect(made.status, made.text).toBe(201);
    expect(made.data).toMatchObject({ name: 'resenv-doc', research_environment: image!.resenv_template_name });

    // SimpleVM's API tutorial (SimpleVM/apiWorkshop): dotted form fields and the script from a file.
    const script = path.join(tmp.dir, 'data.sh');
    writeFileSync(script, '#!/bin/bash\necho "data & more" > ~/DRR127583_1.fastq.gz\n');
    const workshop = `curl -v -X POST http://${host}/portal/api/vms/ -d 'project_id=${project.id}' -d 'image_name=${image!.name}' -d 'flavor_name=de.NBI tiny' `
      + `-d 'vm_name=script-vmfile' -d 'research_environment_backend.create_only=true' -d 'research_environment_backend.template=${image!.resenv_template_name}' `
      + `-d 'research_environment_backend.user_path=mypath' --data-urlencode "additional_script@${script}" -H "X-API-KEY: ${key}"`;
    const tutorial = reply((await sh(`${workshop} -sS --max-time 20 -w '\\n%{http_code}'`, {})).stdout);
    expect(tutorial.status, tutorial.text).toBe(201);
    const vm = await t.factory.waitFor({ key }, `/api/vms/${tutorial.data.openstack_id}/`, (d) => d.status === 'ACTIVE');
    expect(vm.access.research_environment).toEqual({ template: image!.resenv_template_name, url: `/resenv/${vm.openstack_id}/` });
    const boot = await (t.ctx.cloud as SimulatedProvider).serverBoot(vm.openstack_id);
    expect(boot?.userData).toContain('echo "data & more" > ~/DRR127583_1.fastq.gz');
  });
});
