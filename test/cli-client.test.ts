// The client commands of `simplevm` (issue 9) against a real portal listening on 127.0.0.1: every
// command in table and JSON output, --wait with its progress, login's config file, colour, and each
// exit status. Most runs call the command's entry point in this process (a real HTTP client over a
// real socket, with its own environment and captured streams) because each child process costs
// about a second; a few runs spawn the real `simplevm` binary, one of them on a pseudo-terminal.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, isClientCommand, runClientCommand } from '../src/cli/client-commands.js';
import { type TestPortal, type TestUser, buildTestApp } from './helpers.js';
import { lines, runCli, tempDir } from './process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KEY_SHAPE = /svm_[A-Za-z0-9]{8}_[A-Za-z0-9]{38}/;
const tmp = tempDir('simplevm-client-cli-');
const portals: TestPortal[] = [];

let t: TestPortal;
let url: string;
let alice: TestUser;
let bob: TestUser;
let lab: { id: number; name: string };
let other: { id: number; name: string };
let full: { id: number; name: string };
let aliceKey: string;
let alicePrefix: string;
let readOnlyKey: string;
/** Everything any run printed, checked at the end for keys. */
const printed: string[] = [];

async function listen(portal: TestPortal): Promise<string> {
  await portal.app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(portal.app.server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  t = await buildTestApp();
  portals.push(t);
  url = await listen(t);
  [alice, bob] = await Promise.all([t.factory.user(), t.factory.user()]);
  lab = await t.factory.project({ members: [alice, bob] });
  other = await t.factory.project({ members: [alice] });
  full = await t.factory.project({ members: [alice], quota: { volumes: 0 } });
  const key = await t.factory.key(alice);
  aliceKey = key.key;
  alicePrefix = key.prefix;
  readOnlyKey = (await t.factory.key(alice, { scopes: ['vm:read'] })).key;
}, 60_000);

afterAll(async () => {
  for (const p of portals) await p.close();
  tmp.remove();
}, 60_000);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  env?: Record<string, string | undefined>;
  stdin?: string;
  /** Pretend stdout and stderr are a terminal. */
  tty?: boolean;
}

/** `simplevm ARGS…` through its entry point, with alice's key and this portal unless `env` says otherwise. */
async function cli(args: string[], opts: RunOptions = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const env = { SIMPLEVM_URL: url, SIMPLEVM_API_KEY: aliceKey, SIMPLEVM_CONFIG: path.join(tmp.dir, 'no-config.json'), NO_COLOR: '1', ...opts.env };
  const code = await runClientCommand(args, {
    env,
    stdout: { write: (s: string) => (stdout += s), isTTY: opts.tty },
    stderr: { write: (s: string) => (stderr += s), isTTY: opts.tty },
    stdin: Readable.from(opts.stdin === undefined ? [] : [opts.stdin]),
  });
  printed.push(stdout, stderr);
  return { code, stdout, stderr };
}

/** A --json run: status 0, exactly one line on stdout, which is the value. */
function json(r: Run): any {
  expect(r, r.stderr).toMatchObject({ code: 0 });
  expect(lines(r.stdout)).toHaveLength(1);
  return JSON.parse(r.stdout);
}

/** A failed run: the status, nothing on stdout, one line on stderr that says `about`. */
function failure(r: Run, code: number, about: RegExp): void {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code, stdout: '' });
  expect(lines(r.stderr)).toHaveLength(1);
  expect(r.stderr).toMatch(/^simplevm: /);
  expect(r.stderr).toMatch(about);
}

/** The data rows of a table (lines after the header), split on runs of 2+ spaces. */
function rows(text: string): string[][] {
  const [header, ...rest] = lines(text);
  expect(header).toMatch(/^[A-Z]/);
  return rest.map((l) => l.split(/ {2,}/));
}

const server = (p: string) => t.http.get(p, { as: alice.session });
/** The key with its last character changed: its checksum no longer matches. */
const spoilt = (key: string) => key.slice(0, -1) + (key.endsWith('x') ? 'y' : 'x');

describe('simplevm client commands', { timeout: 60_000 }, () => {
  let vm1: string;
  let vm2: string;
  let volume1: string;

  it('tells its commands from the admin commands of the same name', () => {
    expect(isClientCommand(['vm', 'list'])).toBe(true);
    expect(isClientCommand(['--url', 'http://x', '--json', 'project', 'show', 'create'])).toBe(true);
    expect(isClientCommand(['project', 'list'])).toBe(true);
    expect(isClientCommand(['project', 'create', 'genomics'])).toBe(false);
    expect(isClientCommand(['project', 'add-member', 'genomics', 'alice'])).toBe(false);
    expect(isClientCommand(['user', 'create', 'alice'])).toBe(false);
    expect(isClientCommand(['serve'])).toBe(false);
  });

  it('whoami and project list|show|flavors|images, as tables and as JSON', async () => {
    const whoami = await cli(['whoami']);
    expect(whoami.code).toBe(0);
    expect(whoami.stdout).toMatch(new RegExp(`User\\s+${alice.username}\\n`));
    expect(whoami.stdout).toContain(`svm_${alicePrefix}_…`);
    expect(whoami.stdout).toMatch(/Own objects only\s+yes/);
    expect(json(await cli(['whoami', '--json']))).toMatchObject({ username: alice.username, is_superuser: false, api_key: { prefix: alicePrefix, own_objects_only: true } });

    const list = await cli(['project', 'list']);
    expect(lines(list.stdout)[0]).toMatch(/^ID\s+NAME\s+ROLE\s+DESCRIPTION$/);
    expect(rows(list.stdout).map((r) => r.slice(0, 3))).toEqual(expect.arrayContaining([[String(lab.id), lab.name, 'member'], [String(other.id), other.name, 'member']]));
    const listed = json(await cli(['project', 'list', '--json']));
    expect(listed).toEqual((await server('/api/projects/')).data);

    // By name or by id, the same project.
    const show = await cli(['project', 'show', lab.name]);
    expect(show.stdout).toMatch(new RegExp(`Name\\s+${lab.name}\\n`));
    expect(show.stdout).toMatch(/VMs\s+0\s+10\n/);
    expect(show.stdout).toMatch(/volume storage \(GB\)\s+0\s+500\n/);
    expect(json(await cli(['project', 'show', String(lab.id), '--json']))).toEqual((await server(`/api/projects/${lab.id}/`)).data);

    const flavors = await cli(['project', 'flavors', lab.name]);
    expect(rows(flavors.stdout)).toContainEqual(['de.NBI tiny', '1', '2', '20']);
    expect(json(await cli(['project', 'flavors', String(lab.id), '--json']))).toContainEqual({ name: 'de.NBI large', vcpus: 8, ram_gb: 16, disk_gb: 20 });
    const images = await cli(['project', 'images', lab.name]);
    expect(rows(images.stdout).map((r) => r[0])).toEqual(expect.arrayContaining(['Debian-12', 'Ubuntu-22.04', 'Ubuntu-24.04']));
    expect(json(await cli(['project', 'images', lab.name, '--json']))).toEqual((await server(`/api/projects/${lab.id}/images/`)).data);
  });

  it('vm create --wait follows BUILD to ACTIVE with a progress line per state; without --wait it answers at once', async () => {
    const made = await cli(['vm', 'create', 'web-1', '--project', lab.name, '--image', 'Ubuntu-22.04', '--flavor', 'de.NBI tiny', '--wait']);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/Status\s+ACTIVE\n/);
    expect(made.stdout).toMatch(/IP\s+\d+\.\d+\.\d+\.\d+\n/);
    // Plain progress lines (no terminal): the first state seen, then the end.
    expect(lines(made.stderr)[0]).toBe('VM web-1: BUILD (spawning)');
    expect(lines(made.stderr).at(-1)).toBe('VM web-1: ACTIVE');
    vm1 = /ID\s+(\S+)\n/.exec(made.stdout)![1];
    expect((await server(`/api/vms/${vm1}/`)).data).toMatchObject({ name: 'web-1', status: 'ACTIVE', task_state: null, project_id: lab.id });

    const second = json(await cli(['vm', 'create', 'web-2', '--project', String(lab.id), '--image', 'Debian-12', '--flavor', 'de.NBI small', '--json']));
    expect(second).toMatchObject({ name: 'web-2', status: 'BUILD', task_state: 'spawning', owner: alice.username });
    vm2 = second.openstack_id;
    await t.factory.waitFor(alice, `/api/vms/${vm2}/`, (d) => d.status === 'ACTIVE');
  });

  it('vm list and vm show, as tables and as JSON', async () => {
    const list = await cli(['vm', 'list', '--project', lab.name]);
    expect(lines(list.stdout)[0]).toMatch(/^ID\s+NAME\s+STATUS\s+FLAVOR\s+IMAGE\s+IP\s+PROJECT\s+OWNER$/);
    const table = rows(list.stdout);
    expect(table.map((r) => r.slice(0, 5))).toEqual(expect.arrayContaining([
      [vm1, 'web-1', 'ACTIVE', 'de.NBI tiny', 'Ubuntu-22.04'],
      [vm2, 'web-2', 'ACTIVE', 'de.NBI small', 'Debian-12'],
    ]));
    const page = json(await cli(['vm', 'list', '--json', '--text', 'web-1']));
    expect(page).toMatchObject({ count: 1, next: null, previous: null });
    expect(page.results.map((v: { name: string }) => v.name)).toEqual(['web-1']);
    // SimpleVM's filters (spec §8): by owner, by id, and --text over ids too.
    const idsOf = (p: { results: { openstack_id: string }[] }) => p.results.map((v) => v.openstack_id).sort();
    expect(idsOf(json(await cli(['vm', 'list', '--json', '--owner', alice.username])))).toEqual([vm1, vm2].sort());
    expect(json(await cli(['vm', 'list', '--json', '--owner', bob.username]))).toMatchObject({ count: 0 });
    expect(idsOf(json(await cli(['vm', 'list', '--json', '--id', vm2])))).toEqual([vm2]);
    expect(idsOf(json(await cli(['vm', 'list', '--json', '--text', vm1.slice(-12).toUpperCase()])))).toEqual([vm1]);
    expect(rows((await cli(['vm', 'list', '--id', vm1, '--owner', alice.username])).stdout).map((r) => r[0])).toEqual([vm1]);
    expect(json(await cli(['vm', 'list', '--project', String(other.id), '--json']))).toEqual({ count: 0, next: null, previous: null, results: [] });
    expect((await cli(['vm', 'list', '--project', other.name])).stdout).toBe('No VMs.\n');

    // One VM per page: the table says where the next page is, on stderr.
    const paged = await cli(['vm', 'list', '--page-size', '1']);
    expect(rows(paged.stdout)).toHaveLength(1);
    expect(paged.stderr).toBe('page 1 of 2 (2 VMs); next: --page 2\n');
    const second = await cli(['vm', 'list', '--page-size', '1', '--page', '2']);
    expect(rows(second.stdout)).toHaveLength(1);
    expect(second.stderr).toBe('page 2 of 2 (2 VMs)\n');
    expect([rows(paged.stdout)[0][0], rows(second.stdout)[0][0]].sort()).toEqual([vm1, vm2].sort());
    // --json prints the API's page, whose links are relative: resolved against the portal's
    // address, as a script would, `next` is the second page and its `previous` the first.
    const first = json(await cli(['vm', 'list', '--page-size', '1', '--json']));
    expect(first.next).toBe('/api/vms?page_size=1&page=2');
    const followed = await fetch(new URL(first.next, url), { headers: { 'x-api-key': aliceKey } });
    expect(followed.status).toBe(200);
    const last = await followed.json();
    expect(last).toMatchObject({ count: 2, next: null, previous: '/api/vms?page_size=1&page=1' });
    expect([...first.results, ...last.results].map((v: { openstack_id: string }) => v.openstack_id).sort()).toEqual([vm1, vm2].sort());

    const show = await cli(['vm', 'show', vm1]);
    expect(show.stdout).toMatch(new RegExp(`ID\\s+${vm1}\\nName\\s+web-1\\nStatus\\s+ACTIVE\\n`));
    expect(json(await cli(['vm', 'show', vm1, '--json']))).toEqual((await server(`/api/vms/${vm1}/`)).data);
  });

  it('vm stop, resume and reboot, with and without --wait', async () => {
    const stopping = json(await cli(['vm', 'stop', vm1, '--json']));
    expect(stopping).toMatchObject({ openstack_id: vm1, status: 'ACTIVE', task_state: 'powering-off' });
    // While the stop runs, another action is a conflict.
    failure(await cli(['vm', 'stop', vm1]), EXIT.conflict, /invalid_state, HTTP 409/);
    await t.factory.waitFor(alice, `/api/vms/${vm1}/`, (d) => d.status === 'SHUTOFF' && d.task_state === null);

    const resumed = await cli(['vm', 'resume', vm1, '--wait']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`^VM web-1 ${vm1}: ACTIVE, \\d+\\.\\d+\\.\\d+\\.\\d+\\n$`));
    expect(lines(resumed.stderr)).toEqual(['VM web-1: SHUTOFF (powering-on)', 'VM web-1: ACTIVE']);

    // --json prints only the final object: no progress lines off a terminal.
    const rebooted = await cli(['vm', 'reboot', vm1, '--hard', '--wait', '--json']);
    expect(rebooted.stderr).toBe('');
    expect(json(rebooted)).toMatchObject({ openstack_id: vm1, status: 'ACTIVE', task_state: null });
    const audit = await server('/api/audit/?action=vm.action');
    expect(audit.data.results[0]).toMatchObject({ action: 'vm.action', key_prefix: alicePrefix, outcome: 'success' });

    const soft = await cli(['vm', 'reboot', vm2]);
    expect(soft.stdout).toBe(`VM web-2 ${vm2}: REBOOT (rebooting)\n`);
    await t.factory.waitFor(alice, `/api/vms/${vm2}/`, (d) => d.status === 'ACTIVE' && d.task_state === null);
  });

  it('shows a spinner on a terminal while it waits', async () => {
    const r = await cli(['vm', 'stop', vm2, '--wait'], { tty: true });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`VM web-2 ${vm2}: SHUTOFF`);
    expect(r.stderr).toMatch(/\r\u001b\[2K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] VM web-2: ACTIVE \(powering-off\)/);
    expect(r.stderr.endsWith('\r\u001b[2K')).toBe(true); // the line is cleared at the end
    expect(r.stderr).not.toContain('\n');
  });

  it('snapshot create, with --wait until active', async () => {
    const r = await cli(['snapshot', 'create', vm1, 'nightly-1', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Snapshot nightly-1 \\S+ of VM ${vm1}: active\\n$`));
    expect(lines(r.stderr)).toEqual(['Snapshot nightly-1: queued', 'Snapshot nightly-1: active']);
    const queued = json(await cli(['snapshot', 'create', vm1, 'nightly-2', '--description', 'before the upgrade', '--json']));
    expect(queued).toMatchObject({ name: 'nightly-2', status: 'queued', description: 'before the upgrade', vm_openstack_id: vm1, project_id: lab.id });
    // The active snapshot is an image of its project now.
    expect(json(await cli(['project', 'images', lab.name, '--json']))).toContainEqual(expect.objectContaining({ name: 'nightly-1' }));
  });

  it('snapshot delete: gone from its project at once; the JSON names what was deleted; vm:delete needed', async () => {
    const made = json(await cli(['snapshot', 'create', vm1, 'doomed-1', '--wait', '--json']));
    expect(made.status).toBe('active');
    const r = await cli(['snapshot', 'delete', made.openstack_id]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`Snapshot ${made.openstack_id} deleted\n`);
    expect(json(await cli(['project', 'images', lab.name, '--json']))).not.toContainEqual(expect.objectContaining({ name: 'doomed-1' }));
    const again = await cli(['snapshot', 'delete', made.openstack_id]);
    expect(again.code).toBe(EXIT.notFound);
    expect(again.stderr).toMatch(/^simplevm: No such snapshot\. \[not_found, HTTP 404\]\n$/);
    const second = json(await cli(['snapshot', 'create', vm1, 'doomed-2', '--wait', '--json']));
    const refused = await cli(['snapshot', 'delete', second.openstack_id], { env: { SIMPLEVM_API_KEY: readOnlyKey } });
    expect(refused.code).toBe(EXIT.auth);
    expect(refused.stderr).toContain('vm:delete');
    expect(json(await cli(['snapshot', 'delete', second.openstack_id, '--json']))).toEqual({ openstack_id: second.openstack_id, deleted: true });
  });

  it('volume create, list, show, attach, extend, detach and delete, with and without --wait', async () => {
    const made = json(await cli(['volume', 'create', 'data-1', '--size', '1', '--project', lab.name, '--wait', '--json']));
    expect(made).toMatchObject({ name: 'data-1', storage: 1, status: 'available', project_id: lab.id });
    volume1 = made.openstack_id;
    const second = await cli(['volume', 'create', 'data-2', '--size', '2', '--project', String(lab.id)]);
    expect(second.stdout).toMatch(/Status\s+creating\nSize\s+2 GB\n/);
    const volume2 = /ID\s+(\S+)\n/.exec(second.stdout)![1];

    const list = await cli(['volume', 'list', '--project', lab.name]);
    expect(lines(list.stdout)[0]).toMatch(/^ID\s+NAME\s+STATUS\s+SIZE\s+ATTACHED TO\s+DEVICE\s+PROJECT\s+OWNER$/);
    expect(rows(list.stdout).map((r) => r.slice(0, 4))).toContainEqual([volume1, 'data-1', 'available', '1 GB']);
    const page = json(await cli(['volume', 'list', '--status', 'available', '--json']));
    expect(page.results.map((v: { openstack_id: string }) => v.openstack_id)).toContain(volume1);
    expect(page.results.every((v: { status: string }) => v.status === 'available')).toBe(true);
    expect((await cli(['volume', 'show', volume1])).stdout).toMatch(new RegExp(`ID\\s+${volume1}\\nName\\s+data-1\\nStatus\\s+available\\n`));
    expect(json(await cli(['volume', 'show', volume1, '--json']))).toEqual((await server(`/api/volumes/${volume1}/`)).data);

    const attached = await cli(['volume', 'attach', volume1, vm1, '--wait']);
    expect(attached.code, attached.stderr).toBe(0);
    expect(attached.stdout).toBe(`Volume data-1 ${volume1}: in-use, 1 GB on VM ${vm1} as /dev/vdb\n`);
    expect(lines(attached.stderr)).toEqual(['Volume data-1: attaching', 'Volume data-1: in-use']);
    expect((await server(`/api/vms/${vm1}/`)).data.volumes).toEqual([volume1]);

    expect(json(await cli(['volume', 'extend', volume1, '3', '--wait', '--json']))).toMatchObject({ storage: 3, status: 'in-use', attached_to: vm1 });
    expect(json(await cli(['volume', 'detach', volume1, '--wait', '--json']))).toMatchObject({ status: 'available', attached_to: null });

    const deleted = await cli(['volume', 'delete', volume1, '--wait']);
    expect(deleted.stdout).toBe(`Volume data-1 ${volume1}: deleted, 3 GB\n`);
    expect((await server(`/api/volumes/${volume1}/`)).statusCode).toBe(404);

    await t.factory.waitFor(alice, `/api/volumes/${volume2}/`, (d) => d.status === 'available');
    expect(json(await cli(['volume', 'delete', volume2, '--json']))).toMatchObject({ openstack_id: volume2, status: 'deleting' });
  });

  it('vm delete, with --wait until DELETED', async () => {
    const gone = json(await cli(['vm', 'delete', vm2, '--wait', '--json']));
    expect(gone).toMatchObject({ openstack_id: vm2, status: 'DELETED', task_state: null });
    const deleting = await cli(['vm', 'delete', vm1]);
    expect(deleting.stdout).toBe(`VM web-1 ${vm1}: ACTIVE (deleting)\n`);
    await t.factory.waitFor(alice, `/api/vms/${vm1}/`, (d) => d.status === 'DELETED');
    expect((await cli(['vm', 'list', '--project', lab.name])).stdout).toBe('No VMs.\n');
    expect(json(await cli(['vm', 'list', '--status', 'DELETED', '--json'])).count).toBe(2);
  });

  it('audit, as a table and as JSON, filtered by action and paged', async () => {
    const table = await cli(['audit', '--action', 'vm.create']);
    expect(lines(table.stdout)[0]).toMatch(/^AT\s+ACTOR\s+KEY\s+ACTION\s+OBJECT\s+OUTCOME\s+IP$/);
    const events = rows(table.stdout);
    expect(events).toHaveLength(2);
    for (const e of events) expect(e.slice(1, 4)).toEqual([alice.username, alicePrefix, 'vm.create']);
    expect(events.map((e) => e[4])).toEqual([`vm ${vm2}`, `vm ${vm1}`]); // newest first

    const page = json(await cli(['audit', '--page-size', '2', '--page', '2', '--json']));
    expect(page.results).toHaveLength(2);
    expect(page.count).toBeGreaterThan(4);
    expect(page.previous).not.toBeNull();
    expect((await cli(['audit', '--action', 'no.such.action'])).stdout).toBe('No audit events.\n');
  });

  it('exit status 2 for usage errors and for requests the API refuses as invalid', async () => {
    failure(await cli(['vm']), EXIT.usage, /vm needs one of: list, show, ssh, create/);
    failure(await cli(['vm', 'frob']), EXIT.usage, /unknown command: vm frob/);
    failure(await cli(['vm', 'show']), EXIT.usage, /vm show takes VM/);
    failure(await cli(['vm', 'show', 'a', 'b']), EXIT.usage, /vm show takes VM/);
    failure(await cli(['vm', 'list', '--size', '3']), EXIT.usage, /vm list does not take --size/);
    failure(await cli(['vm', 'list', '--page', '0']), EXIT.usage, /--page takes a whole number/);
    failure(await cli(['vm', 'list', '--no-such-option']), EXIT.usage, /no-such-option/);
    failure(await cli(['vm', 'create', 'x', '--image', 'Debian-12']), EXIT.usage, /--image and --flavor/);
    failure(await cli(['vm', 'create', 'x', '--image', 'Debian-12', '--flavor', 'de.NBI tiny']), EXIT.usage, new RegExp(`needs --project: one of .*${lab.name}`));
    failure(await cli(['whoami', '--url', 'ftp://127.0.0.1/']), EXIT.usage, /http:\/\/ or https:\/\//);
    // The API's own 400: an unknown flavor.
    failure(await cli(['vm', 'create', 'x', '--project', lab.name, '--image', 'Debian-12', '--flavor', 'de.NBI huge']), EXIT.usage, /invalid, HTTP 400/);
    failure(await cli(['vm', 'list', '--page-size', '501']), EXIT.usage, /page_size.*HTTP 400/);
  });

  it('exit status 3 without a usable key, or with a key that may not do this', async () => {
    failure(await cli(['whoami'], { env: { SIMPLEVM_API_KEY: undefined } }), EXIT.auth, /no API key: set SIMPLEVM_API_KEY/);
    const unknown = `svm_ABCDEFGH_${'a'.repeat(38)}`;
    const r = await cli(['vm', 'list'], { env: { SIMPLEVM_API_KEY: unknown } });
    failure(r, EXIT.auth, /not_authenticated, HTTP 401.*simplevm login/);
    expect(r.stderr).not.toContain(unknown);
    failure(await cli(['vm', 'create', 'x', '--project', String(lab.id), '--image', 'Debian-12', '--flavor', 'de.NBI tiny'], { env: { SIMPLEVM_API_KEY: readOnlyKey } }), EXIT.auth, /vm:create.*insufficient_scope, HTTP 403/);
  });

  it('exit status 4 for what does not exist or is out of reach', async () => {
    failure(await cli(['vm', 'show', 'no-such-vm']), EXIT.notFound, /not_found, HTTP 404/);
    failure(await cli(['project', 'show', 'no-such-project']), EXIT.notFound, /no project named "no-such-project"/);
    // Bob's volume in a project alice shares: her own-objects key cannot see it.
    const bobs = await t.factory.volume(bob, lab.id, { available: false });
    failure(await cli(['volume', 'show', bobs.openstack_id]), EXIT.notFound, /HTTP 404/);
    failure(await cli(['volume', 'delete', bobs.openstack_id]), EXIT.notFound, /HTTP 404/);
  });

  it('exit status 5 for a conflict of state or quota', async () => {
    const vm = await t.factory.vm(alice, lab.id);
    failure(await cli(['vm', 'resume', vm.openstack_id]), EXIT.conflict, /invalid_state, HTTP 409/);
    failure(await cli(['volume', 'create', 'big', '--size', '1', '--project', full.name]), EXIT.conflict, /quota_exceeded, HTTP 409/);
  });

  it('exit status 6 when the portal cannot be reached or turns requests away', async () => {
    // A port that was just free: nothing listens there.
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    failure(await cli(['vm', 'list'], { env: { SIMPLEVM_URL: `http://127.0.0.1:${closed}` } }), EXIT.server, new RegExp(`cannot reach http://127.0.0.1:${closed}: ECONNREFUSED`));

    // A portal that allows one request a minute per key: within three, one is refused with 429.
    const limited = await buildTestApp({ SIMPLEVM_RATE_LIMIT: '1' });
    portals.push(limited);
    const limitedUrl = await listen(limited);
    const carol = await limited.factory.user();
    const { key } = await limited.factory.key(carol);
    const runs: Run[] = [];
    for (let i = 0; i < 3 && !runs.some((r) => r.code !== 0); i++) runs.push(await cli(['whoami'], { env: { SIMPLEVM_URL: limitedUrl, SIMPLEVM_API_KEY: key } }));
    failure(runs.at(-1)!, EXIT.server, /rate_limited, HTTP 429.*try again/);
  });

  it('exit status 1 when --wait sees ERROR or runs out of time', async () => {
    // No worker: a transition never ends unless the test ends it, as a cloud failure would.
    const stuck = await buildTestApp({}, { worker: false });
    portals.push(stuck);
    const stuckUrl = await listen(stuck);
    const dave = await stuck.factory.user();
    const project = await stuck.factory.project({ members: [dave] });
    const { key } = await stuck.factory.key(dave);
    const env = { SIMPLEVM_URL: stuckUrl, SIMPLEVM_API_KEY: key };
    const create = (name: string, extra: string[]) => cli(['vm', 'create', name, '--project', String(project.id), '--image', 'Debian-12', '--flavor', 'de.NBI tiny', '--wait', ...extra], { env });

    const timedOut = await create('slow-1', ['--timeout', '1']);
    failure({ ...timedOut, stderr: lines(timedOut.stderr).at(-1)! + '\n' }, EXIT.failed, /gave up after 1 s: VM slow-1 is still BUILD \(spawning\)/);

    const failing = create('doomed-1', []);
    const db = stuck.ctx.db.kysely;
    const until = Date.now() + 10_000;
    let row: { openstack_id: string } | undefined;
    while (!row && Date.now() < until) {
      row = await db.selectFrom('vms').select('openstack_id').where('name', '=', 'doomed-1').executeTakeFirst();
      if (!row) await new Promise((r) => setTimeout(r, 20));
    }
    await db.updateTable('vms').set({ status: 'ERROR', task_state: null, fault: 'no valid host' }).where('openstack_id', '=', row!.openstack_id).execute();
    const failed = await failing;
    expect(failed.code).toBe(EXIT.failed);
    expect(failed.stdout).toBe('');
    expect(lines(failed.stderr).at(-1)).toBe('simplevm: VM doomed-1 ended in ERROR: no valid host');
  });

  it('login keeps the URL and key in a file of mode 0600 that later commands read; logout forgets them', async () => {
    const config = path.join(tmp.dir, 'home', '.config', 'simplevm', 'config.json');
    const env = { SIMPLEVM_CONFIG: config, SIMPLEVM_API_KEY: undefined, SIMPLEVM_URL: undefined };

    // A wrong key is not saved.
    failure(await cli(['login', '--url', url], { env, stdin: `svm_ABCDEFGH_${'b'.repeat(38)}\n` }), EXIT.auth, /HTTP 401/);
    expect(fs.existsSync(config)).toBe(false);

    const login = await cli(['login', '--url', `${url}/`], { env, stdin: `${aliceKey}\n` });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toBe(`Logged in to ${url} as ${alice.username} with key svm_${alicePrefix}_… (saved in ${config}, mode 0600)\n`);
    expect(fs.statSync(config).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(config)).mode & 0o777).toBe(0o700);
    expect(JSON.parse(fs.readFileSync(config, 'utf8'))).toEqual({ url, api_key: aliceKey });

    // Nothing but the file now: no SIMPLEVM_URL, no SIMPLEVM_API_KEY.
    expect(json(await cli(['whoami', '--json'], { env })).username).toBe(alice.username);
    // Flags come first, then the environment, then the file.
    failure(await cli(['whoami', '--api-key', spoilt(readOnlyKey)], { env }), EXIT.auth, /HTTP 401/);

    // A file others may read still works, with a warning like ssh's.
    fs.chmodSync(config, 0o644);
    const warned = await cli(['whoami'], { env });
    expect(warned.code).toBe(0);
    expect(warned.stderr).toBe(`simplevm: warning: ${config} may be read by other users; run: chmod 600 ${config}\n`);

    expect(json(await cli(['logout', '--json'], { env }))).toEqual({ logged_out: true, config });
    expect(fs.existsSync(config)).toBe(false);
    failure(await cli(['whoami'], { env }), EXIT.auth, /no API key/);
  });

  it('colours statuses on a terminal or with FORCE_COLOR, and never with NO_COLOR', async () => {
    const vm = await t.factory.vm(alice, other.id);
    const list = ['vm', 'list', '--project', String(other.id)];
    const onTerminal = await cli(list, { tty: true, env: { NO_COLOR: undefined } });
    expect(onTerminal.stdout).toContain('\u001b[32mACTIVE\u001b[39m');
    expect(onTerminal.stdout).toContain('\u001b[1mID\u001b[22m');
    expect((await cli(list, { env: { NO_COLOR: '', FORCE_COLOR: '1' } })).stdout).toContain('\u001b[32mACTIVE\u001b[39m');
    for (const r of [await cli(list, { tty: true, env: { NO_COLOR: '1' } }), await cli(list, { env: { NO_COLOR: '1', FORCE_COLOR: '1' } }), await cli(list, { env: { NO_COLOR: undefined } })]) {
      expect(r.stdout).toContain(vm.openstack_id);
      expect(r.stdout).not.toContain('\u001b');
    }
  });

  it('the real simplevm binary: exit statuses of the process, help, and on a pseudo-terminal a spinner and a hidden key prompt', async () => {
    const env = { SIMPLEVM_URL: url, SIMPLEVM_API_KEY: aliceKey, SIMPLEVM_CONFIG: path.join(tmp.dir, 'no-config.json') };
    const vm = await t.factory.vm(alice, other.id);
    // `script` gives the command a pseudo-terminal, as a person's shell would; `answer` is typed
    // once the output shows `prompt`.
    const onTty = (args: string[], extraEnv: Record<string, string>, prompt?: string, answer?: string) =>
      new Promise<{ code: number | null; output: string }>((resolve, reject) => {
        const command = [process.execPath, path.join(ROOT, 'bin', 'simplevm.js'), ...args].join(' ');
        const child = spawn('script', ['-qec', command, '/dev/null'], {
          cwd: ROOT,
          env: { PATH: process.env.PATH, HOME: tmp.dir, TERM: 'xterm', NO_COLOR: '1', ...extraEnv },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let output = '';
        let typed = false;
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          output += d;
          if (prompt && !typed && output.includes(prompt)) {
            typed = true;
            child.stdin.write(answer);
          }
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          child.stdin.destroy();
          resolve({ code, output });
        });
      });
    const loginConfig = path.join(tmp.dir, 'tty-login', 'config.json');
    const [list, missing, badKey, badPage, help, commandHelp, tty, ttyLogin] = await Promise.all([
      runCli(['vm', 'list', '--json'], { env }),
      runCli(['vm', 'show', 'no-such-vm'], { env }),
      runCli(['whoami'], { env: { ...env, SIMPLEVM_API_KEY: 'svm_nope' } }),
      runCli(['vm', 'list', '--page', 'x'], { env }),
      runCli(['--help'], { env }),
      runCli(['vm', 'create', '--help'], { env }),
      onTty(['vm', 'stop', vm.openstack_id, '--wait'], env),
      onTty(['login'], { SIMPLEVM_URL: url, SIMPLEVM_CONFIG: loginConfig }, '(input hidden): ', `${aliceKey}\r`),
    ]);
    expect(list).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(list.stdout).results.map((v: { openstack_id: string }) => v.openstack_id)).toContain(vm.openstack_id);
    expect(missing).toMatchObject({ code: 4, stdout: '' });
    expect(missing.stderr).toMatch(/^simplevm: .*not_found, HTTP 404\]\n$/);
    expect(badKey).toMatchObject({ code: 3, stdout: '' });
    expect(badPage).toMatchObject({ code: 2, stdout: '' });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('simplevm user create NAME');
    expect(help.stdout).toContain('simplevm vm create NAME --image IMAGE --flavor FLAVOR [--project P] [--wait]');
    expect(help.stdout).toMatch(/exit status: 0 done, 1 .* 2 usage .* 3 authentication/s);
    // Each command has its own help: its usage line and the options it takes, no others.
    expect(commandHelp.code).toBe(0);
    expect(commandHelp.stdout).toMatch(/^Usage: simplevm vm create NAME --image IMAGE --flavor FLAVOR/);
    expect(commandHelp.stdout).toMatch(/--image <IMAGE>[\s\S]*--flavor <FLAVOR>[\s\S]*--wait/);
    expect(commandHelp.stdout).not.toContain('--password-stdin');
    expect(commandHelp.stdout).not.toContain('--size');

    expect(tty.code, tty.output).toBe(0);
    expect(tty.output).toMatch(/\r\u001b\[2K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] VM \S+: ACTIVE \(powering-off\)/);
    expect(tty.output).toContain(`: SHUTOFF`);

    // On a terminal, login asks for the key without echoing it.
    expect(ttyLogin.code, ttyLogin.output).toBe(0);
    expect(ttyLogin.output).toContain(`API key for ${url} (input hidden): `);
    expect(ttyLogin.output).toContain(`Logged in to ${url} as ${alice.username} with key svm_${alicePrefix}_…`);
    expect(JSON.parse(fs.readFileSync(loginConfig, 'utf8'))).toEqual({ url, api_key: aliceKey });
    expect(fs.statSync(loginConfig).mode & 0o777).toBe(0o600);
    printed.push(list.stdout, list.stderr, missing.stderr, badKey.stderr, badPage.stderr, help.stdout, commandHelp.stdout, tty.output, ttyLogin.output);
  });

  it('never printed a key: not in tables, JSON, progress, errors or help', () => {
    expect(printed.length).toBeGreaterThan(100);
    for (const text of printed) {
      expect(text).not.toMatch(KEY_SHAPE);
      for (const key of [aliceKey, readOnlyKey]) expect(text).not.toContain(key.slice(13));
    }
  });
});

describe('getting into a VM', () => {
  it('vm show prints the ssh line; vm ssh runs ssh to the VM by id or name and exits with its status', async () => {
    const created = json(await cli(['vm', 'create', 'sshable', '--project', String(lab.id), '--image', 'Ubuntu-22.04', '--flavor', 'de.NBI tiny', '--wait', '--json']));
    const vm = (await server(`/api/vms/${created.openstack_id}/`)).data;
    expect(vm.access.ssh.command).toBe(`ssh -i ~/.ssh/id_ed25519 ubuntu@${vm.fixed_ip}`);
    const shown = await cli(['vm', 'show', vm.openstack_id]);
    expect(shown.stdout).toMatch(new RegExp(`Connect\\s+ssh -i ~/\\.ssh/id_ed25519 ubuntu@${vm.fixed_ip.replaceAll('.', '\\.')}`));

    // A stand-in for ssh that records its arguments and ends as told.
    const argsFile = path.join(tmp.dir, 'ssh-args');
    const fakeSsh = path.join(tmp.dir, 'fake-ssh');
    fs.writeFileSync(fakeSsh, `#!/bin/sh\nprintf '%s\\n' "$@" > ${argsFile}\nexit \${FAKE_SSH_STATUS:-0}\n`, { mode: 0o755 });
    for (const ref of [vm.openstack_id, 'sshable']) {
      fs.rmSync(argsFile, { force: true });
      const run = await cli(['vm', 'ssh', ref, '--identity', '/keys/mine'], { env: { SIMPLEVM_SSH: fakeSsh } });
      expect(run.code, run.stderr).toBe(0);
      expect(lines(fs.readFileSync(argsFile, 'utf8'))).toEqual(['-i', '/keys/mine', '-p', '22', `ubuntu@${vm.fixed_ip}`]);
    }
    const failed = await cli(['vm', 'ssh', 'sshable'], { env: { SIMPLEVM_SSH: fakeSsh, FAKE_SSH_STATUS: '255' } });
    expect(failed.code).toBe(255);
    failure(await cli(['vm', 'ssh', 'no-such-vm'], { env: { SIMPLEVM_SSH: fakeSsh } }), EXIT.notFound, /no VM no-such-vm/);
  });
});
