// The `simplevm` command as users run it (spec §1): real child processes on a real database
// (a SQLite file; a fresh PostgreSQL database when TEST_DATABASE_URL is set), checked through the
// real HTTP API of a real `simplevm serve`. Each spawn costs a process start (about a tenth of a
// second for the compiled command, more for a server), so the admin commands build one world step
// by step and independent commands run side by side. The two
// groups below use separate databases and run concurrently; within each, tests run in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/server/db/index.js';
import { ApiClient, type CliResult, type ServerProcess, freshProcessDatabase, lines, runCli, startServer, tempDir } from './process.js';

const tmp = tempDir();
const dropDatabases: Array<() => Promise<void>> = [];
const servers: ServerProcess[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  for (const drop of dropDatabases) await drop();
  tmp.remove();
}, 60_000);

async function database(name: string): Promise<string> {
  const db = await freshProcessDatabase(tmp.dir, name);
  dropDatabases.push(db.drop);
  return db.url;
}

/** The one JSON object a `--json` command prints: exactly one line on stdout, nothing on stderr. */
function jsonOutput(r: CliResult): Record<string, unknown> {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(lines(r.stdout)).toHaveLength(1);
  const obj = JSON.parse(r.stdout) as unknown;
  expect(obj).toBeTypeOf('object');
  expect(Array.isArray(obj)).toBe(false);
  return obj as Record<string, unknown>;
}

/** A failure: non-zero status, one line on stderr that says `about`, nothing on stdout. */
function oneLineFailure(r: CliResult, about: RegExp): void {
  expect(r.code).not.toBe(0);
  expect(r.stdout).toBe('');
  expect(r.stderr.endsWith('\n')).toBe(true);
  expect(lines(r.stderr)).toHaveLength(1);
  expect(r.stderr).toMatch(about);
}

describe.concurrent('admin commands', { timeout: 90_000 }, () => {
  let env: Record<string, string>;
  let alicePassword: string;
  const bobPassword = 'bob first line of stdin';
  let scienceId: number;
  let plainId: number;
  let server: ServerProcess;

  beforeAll(async () => {
    env = { DATABASE_URL: await database('admin') };
  }, 60_000);

  const cli = (args: string[], input?: string) => runCli(args, { env, input });

  it.sequential('migrate creates the schema of an empty database and names the migrations it applied', async () => {
    const migrated = jsonOutput(await cli(['migrate', '--json']));
    expect(Object.keys(migrated)).toEqual(['migrated']);
    expect(migrated.migrated).toEqual(expect.arrayContaining(['202611260001-initial', '202611260002-api-keys']));
  });

  it.sequential('user create prints a generated password once, or reads the first line of stdin', async () => {
    const [alice, bob] = await Promise.all([
      cli(['user', 'create', 'alice', '--json']),
      cli(['user', 'create', 'bob', '--superuser', '--password-stdin', '--json'], `${bobPassword}\nsecond line is not the password\n`),
    ]);
    const a = jsonOutput(alice);
    expect(a).toMatchObject({ username: 'alice', is_superuser: false });
    expect(a.password).toEqual(expect.any(String));
    alicePassword = a.password as string;
    expect(alicePassword.length).toBeGreaterThanOrEqual(16);
    expect(alice.stdout.split(alicePassword)).toHaveLength(2); // printed exactly once

    // With --password-stdin nothing secret is printed: exactly the spec's object.
    expect(jsonOutput(bob)).toEqual({ username: 'bob', is_superuser: true });
    expect(bob.stdout).not.toContain(bobPassword);
  });

  it.sequential('project create takes quota flags or the defaults and prints {"id","name"}', async () => {
    const [science, plain] = await Promise.all([
      cli(['project', 'create', 'science', '--vms', '3', '--cores', '8', '--ram-gb', '16', '--volumes', '2', '--volume-gb', '50', '--json']),
      cli(['project', 'create', 'plain project', '--json']),
    ]);
    const s = jsonOutput(science);
    const p = jsonOutput(plain);
    expect(s).toEqual({ id: expect.any(Number), name: 'science' });
    expect(p).toEqual({ id: expect.any(Number), name: 'plain project' });
    expect(s.id).not.toBe(p.id);
    scienceId = s.id as number;
    plainId = p.id as number;
  });

  it.sequential('project add-member finds the project by id or by name, as member or --admin', async () => {
    const [byId, byName] = await Promise.all([
      cli(['project', 'add-member', String(scienceId), 'alice', '--json']),
      cli(['project', 'add-member', 'plain project', 'alice', '--admin', '--json']),
    ]);
    expect(jsonOutput(byId)).toMatchObject({ username: 'alice', role: 'member' });
    expect(jsonOutput(byName)).toMatchObject({ username: 'alice', role: 'admin' });
  });

  it.sequential('fails with a non-zero status and one line on stderr', async () => {
    const [duplicate, unknownUser, bothFlags] = await Promise.all([
      cli(['user', 'create', 'alice', '--json']),
      cli(['user', 'set', 'nobody', '--inactive', '--json']),
      cli(['user', 'set', 'alice', '--active', '--inactive']),
    ]);
    oneLineFailure(duplicate, /alice.*exists/);
    oneLineFailure(unknownUser, /nobody/);
    oneLineFailure(bothFlags, /--active.*--inactive/);
  });

  it.sequential('serve shows what the commands made through the HTTP API, and creates no admin in a used database', async () => {
    server = await startServer({ ...env, SIMPLEVM_API_KEYS_FOR: 'superusers', SIMPLEVM_SIM_DELAY_MS: '0' });
    servers.push(server);
    expect(server.stdout()).not.toMatch(/First start|password/);

    const alice = new ApiClient(server.url);
    expect((await alice.login('alice', alicePassword)).status).toBe(200);
    expect((await alice.get('/api/auth/me')).data).toMatchObject({ username: 'alice', is_superuser: false });

    const list = await alice.get('/api/projects/');
    expect(list.status).toBe(200);
    expect(list.data.map((p: { name: string; role: string }) => [p.name, p.role]).sort()).toEqual([['plain project', 'admin'], ['science', 'member']]);
    const science = await alice.get(`/api/projects/${scienceId}/`);
    expect(science.data).toMatchObject({ name: 'science', role: 'member', quota: { vms: 3, cores: 8, ram_gb: 16, volumes: 2, volume_gb: 50 } });
    const plain = await alice.get(`/api/projects/${plainId}/`);
    expect(plain.data).toMatchObject({ name: 'plain project', role: 'admin', quota: { vms: 10, cores: 32, ram_gb: 64, volumes: 10, volume_gb: 500 } });

    // Only the first line of stdin became bob's password.
    const bob = new ApiClient(server.url);
    expect((await bob.login('bob', `${bobPassword}\nsecond line is not the password`)).status).toBe(401);
    expect((await bob.login('bob', bobPassword)).status).toBe(200);
    expect((await bob.get('/api/auth/me')).data).toMatchObject({ username: 'bob', is_superuser: true });
    expect((await new ApiClient(server.url).login('admin', 'admin')).status).toBe(401);
  });

  it.sequential('user set --password-stdin sets the first line of stdin as the password and ends the user\'s sessions', async () => {
    const before = new ApiClient(server.url);
    expect((await before.login('alice', alicePassword)).status).toBe(200);
    const newPassword = 'alice second password';
    const set = await cli(['user', 'set', 'alice', '--password-stdin', '--json'], `${newPassword}\nnot this line\n`);
    expect(jsonOutput(set)).toEqual({ username: 'alice', is_superuser: false, is_active: true });
    expect(set.stdout).not.toContain(newPassword);

    const ended = await before.get('/api/auth/me');
    expect(ended.status).toBe(401);
    expect((await new ApiClient(server.url).login('alice', alicePassword)).status).toBe(401);
    expect((await new ApiClient(server.url).login('alice', `${newPassword}\nnot this line`)).status).toBe(401);
    expect((await new ApiClient(server.url).login('alice', newPassword)).status).toBe(200);
    alicePassword = newPassword;

    // An empty first line sets nothing.
    oneLineFailure(await cli(['user', 'set', 'alice', '--password-stdin'], '\n'), /password.*empty/);
    expect((await new ApiClient(server.url).login('alice', newPassword)).status).toBe(200);
  });

  it.sequential('user set --password-stdin writes password.change to the user\'s audit log, with no actor (spec §7)', async () => {
    const alice = new ApiClient(server.url);
    expect((await alice.login('alice', alicePassword)).status).toBe(200);
    const log = await alice.get('/api/audit/?action=password.change');
    expect(log.status).toBe(200);
    // Once: the refused empty password above wrote nothing.
    expect(log.data.results).toEqual([{
      at: expect.any(String), actor: null, key_prefix: null, action: 'password.change', object_type: 'user', object_id: expect.any(String),
      ip: null, outcome: 'success', detail: { via: 'cli' },
    }]);
  });

  it.sequential('project add-member writes project.member_add to the member\'s audit log, with no actor (spec §7)', async () => {
    const alice = new ApiClient(server.url);
    expect((await alice.login('alice', alicePassword)).status).toBe(200);
    const log = await alice.get('/api/audit/?action=project.member_add');
    expect(log.status).toBe(200);
    // The two add-member commands above ran side by side: either may be first.
    const events = [...log.data.results].sort((a: { object_id: string }, b: { object_id: string }) => Number(a.object_id) - Number(b.object_id));
    const event = (projectId: number, role: string) => ({
      at: expect.any(String), actor: null, key_prefix: null, action: 'project.member_add', object_type: 'project', object_id: String(projectId),
      ip: null, outcome: 'success', detail: { username: 'alice', role, via: 'cli' },
    });
    expect(events).toEqual([event(scienceId, 'member'), event(plainId, 'admin')].sort((a, b) => Number(a.object_id) - Number(b.object_id)));
  });

  it.sequential('an option the command does not take is refused with status 2, naming it, and changes nothing', async () => {
    const [create, set, before, unknown] = await Promise.all([
      cli(['user', 'create', 'carol', '--no-superuser']),
      cli(['project', 'add-member', 'science', 'bob', '--vms', '3']),
      cli(['--json', 'migrate']),
      cli(['user', 'set', 'bob', '--inactive', '--frobnicate', '--json']),
    ]);
    for (const [r, option] of [[create, '--no-superuser'], [set, '--vms'], [before, '--json'], [unknown, '--frobnicate']] as const) {
      oneLineFailure(r, new RegExp(option));
      expect(r.code).toBe(2);
    }
    const alice = new ApiClient(server.url);
    expect((await alice.login('alice', alicePassword)).status).toBe(200);
    const science = await alice.get(`/api/projects/${scienceId}/`);
    expect(science.data.members).toEqual([{ username: 'alice', role: 'member' }]);
    expect((await new ApiClient(server.url).login('bob', bobPassword)).status).toBe(200);
    expect((await new ApiClient(server.url).login('carol', 'anything')).status).toBe(401);
  });

  it.sequential('user set takes effect on the very next request of a session and of a key', async () => {
    const bob = new ApiClient(server.url);
    expect((await bob.login('bob', bobPassword)).status).toBe(200);
    const created = await bob.post('/api/keys/', { name: 'cli-test', scopes: ['project:read'] });
    expect(created.status).toBe(201);
    const key = created.data.key as string;
    const withKey = (url: string) => fetch(`${server.url}${url}`, { headers: { 'x-api-key': key } });
    expect((await withKey('/api/auth/me')).status).toBe(200);

    // No longer a superuser: the beta gate (SIMPLEVM_API_KEYS_FOR=superusers) shuts the key at once.
    expect(jsonOutput(await cli(['user', 'set', 'bob', '--no-superuser', '--json']))).toEqual({ username: 'bob', is_superuser: false, is_active: true });
    expect((await bob.get('/api/auth/me')).data).toMatchObject({ username: 'bob', is_superuser: false });
    const gated = await withKey('/api/auth/me');
    expect(gated.status).toBe(403);
    expect((await gated.json()).code).toBe('api_keys_not_enabled');

    // Deactivated: the session and the key stop at once, and logging in fails.
    expect(jsonOutput(await cli(['user', 'set', 'bob', '--superuser', '--inactive', '--json']))).toEqual({ username: 'bob', is_superuser: true, is_active: false });
    const session = await bob.get('/api/auth/me');
    expect(session.status).toBe(401);
    expect(session.data.code).toBe('not_authenticated');
    expect((await withKey('/api/auth/me')).status).toBe(401);
    expect((await new ApiClient(server.url).login('bob', bobPassword)).status).toBe(401);

    // Reactivated: the key works again and bob can log in, as a superuser.
    expect(jsonOutput(await cli(['user', 'set', 'bob', '--active', '--json']))).toEqual({ username: 'bob', is_superuser: true, is_active: true });
    const back = await withKey('/api/auth/me');
    expect(back.status).toBe(200);
    expect(await back.json()).toMatchObject({ username: 'bob', is_superuser: true });
    const again = new ApiClient(server.url);
    expect((await again.login('bob', bobPassword)).status).toBe(200);

    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});

describe.concurrent('serve', { timeout: 90_000 }, () => {
  it.sequential('exits non-zero with one line naming a bad variable, before touching the database', async () => {
    const url = await database('never');
    const r = await runCli(['serve'], { env: { DATABASE_URL: url, SIMPLEVM_PORT: 'abc' } });
    oneLineFailure(r, /SIMPLEVM_PORT/);
    if (!process.env.TEST_DATABASE_URL) {
      const fs = await import('node:fs');
      expect(fs.existsSync(url)).toBe(false);
    }
  });

  it.sequential('on its first start creates admin (password printed once) and project demo; later starts do not', async () => {
    const env = { DATABASE_URL: await database('fresh'), SIMPLEVM_SIM_DELAY_MS: '0' };
    const first = await startServer(env);
    servers.push(first);
    const log = first.stdout();
    const password = /created superuser \\?"admin\\?" with password (\S+) and project \\?"demo\\?"/.exec(log)?.[1];
    expect(password, log).toBeDefined();
    expect(log.split(password!)).toHaveLength(2);
    expect(first.stderr()).not.toContain(password!);

    const admin = new ApiClient(first.url);
    const login = await admin.login('admin', password!);
    expect(login.status).toBe(200);
    expect(login.data.user).toMatchObject({ username: 'admin', is_superuser: true });
    const projects = await admin.get('/api/projects/');
    expect(projects.data).toEqual([expect.objectContaining({ name: 'demo', role: 'admin' })]);
    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    const second = await startServer(env);
    servers.push(second);
    expect(second.stdout()).not.toMatch(/First start|password/);
    const again = new ApiClient(second.url);
    expect((await again.login('admin', password!)).status).toBe(200);
    expect((await again.get('/api/projects/')).data).toEqual([expect.objectContaining({ name: 'demo', role: 'admin' })]);
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    const db = openDatabase(env.DATABASE_URL, { pool: 1 });
    try {
      const users = await db.kysely.selectFrom('users').select(['username', 'is_superuser']).execute();
      expect(users).toEqual([{ username: 'admin', is_superuser: 1 }]);
      const names = await db.kysely.selectFrom('projects').select('name').execute();
      expect(names).toEqual([{ name: 'demo' }]);
    } finally {
      await db.destroy();
    }
  });
});
