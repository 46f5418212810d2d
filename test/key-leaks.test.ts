// A key never appears in logs, in the database or in error messages (spec §2, "Storage").
// A full scenario runs at log level debug with every log line captured: keys are made (JSON, form,
// rotation), used for creating, listing and acting, and for every kind of error, including bad keys,
// a 401 and leak reports. Then the log lines, every file of the SQLite database's directory (the
// .sqlite and its -wal and -shm), and every row of every table are searched for each key issued,
// whole and for its secret part. Every answer but the one that created a key is searched too.
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { checksumOf } from '../src/server/auth/key-format.js';
import { loadConfig } from '../src/server/config.js';
import type { Db } from '../src/server/db/index.js';
import { createPortal, type Portal } from '../src/server/portal.js';
import { ALL_SCOPES, Factory, Http, freshDatabaseUrl, type TestUser, unique } from './helpers.js';
import { tempDir } from './process.js';

const SECRET = (key: string) => key.slice(13, 45);

interface Run {
  portal: Portal;
  db: Db;
  http: Http;
  factory: Factory;
  base: string;
  /** Every line written to the log, and to stdout/stderr while the scenario ran. */
  logs: string[];
  /** Every key the portal issued. */
  issued: string[];
  /** Every answer: where it came from, its body, and the key it may legitimately hold. */
  answers: { what: string; body: string; mayHold?: string }[];
  close(): Promise<void>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function start(databaseUrl: string): Promise<Run> {
  const logs: string[] = [];
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    SIMPLEVM_LOG_LEVEL: 'debug',
    SIMPLEVM_SIM_DELAY_MS: '30',
    SIMPLEVM_WORKER_POLL_MS: '10',
    SIMPLEVM_API_KEYS_FOR: 'all',
    // Low enough to be reached at the end of the scenario, so that a 429 is part of it.
    SIMPLEVM_AUTH_FAIL_LIMIT: '12',
  });
  const portal = await createPortal(config, { logStream: { write: (line: string) => void logs.push(line) } });
  const db = portal.ctx.db;
  portal.startWorker();
  await portal.app.listen({ host: '127.0.0.1', port: 0 });
  const http = new Http(portal);
  let closed = false;
  const run: Run = {
    portal, db, http, factory: new Factory(portal, http),
    base: `http://127.0.0.1:${(portal.app.server.address() as AddressInfo).port}`,
    logs, issued: [], answers: [],
    close: async () => {
      if (closed) return;
      closed = true;
      await portal.close();
    },
  };
  cleanups.push(run.close);
  return run;
}

/** Captures what anything writes to stdout and stderr (a stray console.log) while `fn` runs. */
async function capturingStdio<T>(logs: string[], fn: () => Promise<T>): Promise<T> {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const tap = (orig: typeof out) => ((chunk: unknown, ...rest: unknown[]) => {
    logs.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return (orig as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof out;
  process.stdout.write = tap(out);
  process.stderr.write = tap(err);
  try {
    return await fn();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** A request over real HTTP; its answer is recorded for the search. */
async function send(
  r: Run, what: string, method: string, url: string,
  opts: { key?: string; bearer?: string; session?: TestUser['session']; json?: unknown; form?: Record<string, string | string[]>; raw?: { type: string; body: string }; mayHold?: string } = {},
): Promise<{ status: number; data: any }> {
  const headers: Record<string, string> = {};
  if (opts.key !== undefined) headers['X-API-KEY'] = opts.key;
  if (opts.bearer !== undefined) headers.authorization = `Bearer ${opts.bearer}`;
  if (opts.session) {
    headers.cookie = opts.session.cookie;
    headers['x-csrf-token'] = opts.session.csrf;
  }
  let body: string | undefined;
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.form) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.form)) for (const item of Array.isArray(v) ? v : [v]) p.append(k, item);
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = p.toString();
  } else if (opts.raw) {
    headers['content-type'] = opts.raw.type;
    body = opts.raw.body;
  }
  const res = await fetch(`${r.base}${url}`, { method, headers, body });
  const text = await res.text();
  r.answers.push({ what: `${what}: ${method} ${url} → ${res.status}`, body: text + JSON.stringify([...res.headers]), mayHold: opts.mayHold });
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  return { status: res.status, data };
}

async function waitFor(r: Run, key: string, url: string, done: (d: any) => boolean): Promise<any> {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const res = await send(r, 'poll', 'GET', url, { key });
    if (res.status === 200 && done(res.data)) return res.data;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting on ${url}`);
}

/** Makes keys in every way there is, uses them for everything and every error, and reports leaks. */
async function scenario(r: Run): Promise<void> {
  const admin = await r.factory.user({ superuser: true });
  const alice = await r.factory.user();
  const project = await r.factory.project({ admins: [admin], members: [alice] });
  const s = alice.session;

  const make = async (what: string, body: Record<string, unknown>, form = false) => {
    const res = form
      ? await send(r, what, 'POST', '/api/keys/', { session: s, form: body as Record<string, string | string[]> })
      : await send(r, what, 'POST', '/api/keys/', { session: s, json: body });
    expect(res.status, JSON.stringify(res.data)).toBe(201);
    r.issued.push(res.data.key);
    r.answers[r.answers.length - 1].mayHold = res.data.key;
    return res.data as { key: string; id: number; prefix: string };
  };
  const main = await make('json key', { name: 'main', scopes: ALL_SCOPES, own_objects_only: false });
  const readOnly = await make('form key', { name: 'read only', scopes: ['vm:read', 'volume:read'] }, true);
  const bound = await make('bound key', { name: 'bound', scopes: ALL_SCOPES, project_id: project.id, expires_at: new Date(Date.now() + 7 * 86_400_000).toISOString() });
  const doomed = await make('key to delete', { name: 'doomed', scopes: ['vm:read'] });
  const rotated = await make('key to rotate', { name: 'rotated', scopes: ['vm:read'] });
  const leakedJson = await make('key to report (json)', { name: 'leaked', scopes: ['vm:read'] });
  const leakedForm = await make('key to report (form)', { name: 'leaked 2', scopes: ['vm:read'] });
  const expiring = await make('key to expire', { name: 'expiring', scopes: ['vm:read'] });
  const adminKey = await r.factory.key(admin);
  r.issued.push(adminKey.key);

  const rotation = await send(r, 'rotate', 'POST', `/api/keys/${rotated.id}/rotate/`, { session: s, json: { overlap_hours: 1 } });
  expect(rotation.status).toBe(201);
  r.issued.push(rotation.data.key);
  r.answers[r.answers.length - 1].mayHold = rotation.data.key;
  const rotation2 = await send(r, 'rotate now', 'POST', `/api/keys/${rotation.data.id}/rotate/`, { session: s, form: { overlap_hours: '0' } });
  expect(rotation2.status).toBe(201);
  r.issued.push(rotation2.data.key);
  r.answers[r.answers.length - 1].mayHold = rotation2.data.key;
  expect((await send(r, 'list keys', 'GET', '/api/keys/', { session: s })).status).toBe(200);

  // Use: create, list, act, with the key in X-API-KEY (JSON and form) and as a bearer token.
  const vm = await send(r, 'create vm', 'POST', '/api/vms/', { key: main.key, json: { project_id: project.id, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: unique('vm') } });
  expect(vm.status).toBe(201);
  const vmUrl = `/api/vms/${vm.data.openstack_id}/`;
  const vm2 = await send(r, 'create vm (form, bearer)', 'POST', '/api/vms/', { bearer: bound.key, form: { project_id: String(project.id), image_name: 'Debian-12', flavor_name: 'de.NBI small', vm_name: unique('vm') } });
  expect(vm2.status).toBe(201);
  const vol = await send(r, 'create volume', 'POST', '/api/volumes/', { key: main.key, form: { project_id: String(project.id), name: 'data', storage: '2' } });
  expect(vol.status).toBe(201);
  await waitFor(r, main.key, vmUrl, (d) => d.status === 'ACTIVE');
  await waitFor(r, main.key, `/api/volumes/${vol.data.openstack_id}/`, (d) => d.status === 'available');
  expect((await send(r, 'list vms', 'GET', `/api/vms/?project_id=${project.id}`, { key: readOnly.key })).status).toBe(200);
  expect((await send(r, 'list volumes', 'GET', '/api/volumes/', { bearer: main.key })).status).toBe(200);
  expect((await send(r, 'projects', 'GET', `/api/projects/${project.id}/`, { key: main.key })).status).toBe(200);
  expect((await send(r, 'me', 'GET', '/api/auth/me', { key: rotation2.data.key })).status).toBe(200);
  expect((await send(r, 'old key in its overlap', 'GET', '/api/auth/me', { key: rotated.key })).status).toBe(200);
  expect((await send(r, 'attach', 'POST', `/api/volumes/${vol.data.openstack_id}/action/`, { key: main.key, json: { os_action: 'attach', vm_openstack_id: vm.data.openstack_id } })).status).toBe(202);
  await waitFor(r, main.key, `/api/volumes/${vol.data.openstack_id}/`, (d) => d.status === 'in-use');
  expect((await send(r, 'stop', 'POST', `${vmUrl}action/`, { key: main.key, form: { os_action: 'stop' } })).status).toBe(202);
  await waitFor(r, main.key, vmUrl, (d) => d.status === 'SHUTOFF' && d.task_state === null);
  expect((await send(r, 'snapshot', 'POST', '/api/snapshots/', { key: main.key, json: { snapshot_instance: vm.data.openstack_id, snapshot_name: unique('snap') } })).status).toBe(202);
  expect((await send(r, 'audit', 'GET', '/api/audit/', { key: main.key })).status).toBe(200);
  expect((await send(r, 'audit (session)', 'GET', '/api/audit/', { session: s })).status).toBe(200);

  // Errors, with a key in every field a confused user might paste it into.
  const k = main.key;
  const expectStatus = async (status: number, p: Promise<{ status: number; data: any }>) => {
    const res = await p;
    expect(res.status, JSON.stringify(res.data)).toBe(status);
  };
  await expectStatus(409, send(r, 'wrong state', 'POST', `${vmUrl}action/`, { key: k, json: { os_action: 'stop' } }));
  await expectStatus(400, send(r, 'missing fields', 'POST', '/api/vms/', { key: k, json: {} }));
  await expectStatus(400, send(r, 'key as image', 'POST', '/api/vms/', { key: k, json: { project_id: project.id, image_name: k, flavor_name: 'de.NBI tiny', vm_name: 'x1' } }));
  await expectStatus(400, send(r, 'key as flavor', 'POST', '/api/vms/', { key: k, form: { project_id: String(project.id), image_name: 'Ubuntu-22.04', flavor_name: k, vm_name: 'x2' } }));
  await expectStatus(400, send(r, 'key as vm name', 'POST', '/api/vms/', { key: k, json: { project_id: project.id, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: `${k} x` } }));
  await expectStatus(400, send(r, 'key as project', 'POST', '/api/volumes/', { key: k, json: { project_id: k, name: 'v', storage: 1 } }));
  await expectStatus(400, send(r, 'key as size', 'POST', '/api/volumes/', { key: k, form: { project_id: String(project.id), name: 'v', storage: k } }));
  await expectStatus(400, send(r, 'key as action', 'POST', `${vmUrl}action/`, { key: k, form: { os_action: k } }));
  await expectStatus(404, send(r, 'key as snapshot vm', 'POST', '/api/snapshots/', { key: k, json: { snapshot_instance: k, snapshot_name: 'snap-x' } }));
  await expectStatus(400, send(r, 'key as expiry', 'POST', '/api/keys/', { session: s, json: { name: 'x', scopes: ['vm:read'], expires_at: k } }));
  await expectStatus(400, send(r, 'key as scope', 'POST', '/api/keys/', { session: s, form: { name: 'x', scopes: [k] } }));
  await expectStatus(400, send(r, 'broken JSON holding a key', 'POST', '/api/vms/', { key: k, raw: { type: 'application/json', body: `{"image_name": "${k}", ` } }));
  await expectStatus(415, send(r, 'a text body holding a key', 'POST', '/api/vms/', { key: k, raw: { type: 'text/plain', body: k } }));
  await expectStatus(403, send(r, 'no scope', 'POST', '/api/vms/', { key: readOnly.key, json: { project_id: project.id, image_name: 'Ubuntu-22.04', flavor_name: 'de.NBI tiny', vm_name: 'x3' } }));
  await expectStatus(403, send(r, 'session only', 'GET', '/api/keys/', { key: k }));
  await expectStatus(404, send(r, 'bound key elsewhere', 'GET', `/api/projects/${project.id + 1000}/`, { key: bound.key }));
  await expectStatus(401, send(r, 'no credentials', 'GET', '/api/vms/'));
  await expectStatus(401, send(r, 'key as password', 'POST', '/api/auth/login', { json: { username: alice.username, password: k } }));
  await expectStatus(401, send(r, 'key as username', 'POST', '/api/auth/login', { form: { username: k, password: k } }));

  // Bad keys: a typo (checksum), another secret behind a real prefix, deleted, expired, deactivated.
  const flipped = k.slice(0, 20) + (k[20] === 'a' ? 'b' : 'a') + k.slice(21);
  await expectStatus(401, send(r, 'bad checksum', 'GET', '/api/vms/', { key: flipped }));
  const otherSecret = `svm_${main.prefix}_${'Q'.repeat(32)}`;
  await expectStatus(401, send(r, 'wrong secret', 'GET', '/api/vms/', { bearer: otherSecret + checksumOf(otherSecret) }));
  await expectStatus(204, send(r, 'delete key', 'DELETE', `/api/keys/${doomed.id}/`, { session: s }));
  await expectStatus(401, send(r, 'deleted key', 'GET', '/api/vms/', { key: doomed.key }));
  await r.db.kysely.updateTable('api_keys').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', expiring.id).execute();
  await r.db.settleKeyChanges(); // heard by every instance that keeps keys in memory (PostgreSQL)
  await expectStatus(401, send(r, 'expired key', 'GET', '/api/vms/', { key: expiring.key }));
  await expectStatus(401, send(r, 'old key after rotation', 'GET', '/api/vms/', { key: rotation.data.key }));
  await r.db.kysely.updateTable('users').set({ is_active: 0 }).where('id', '=', admin.id).execute();
  await r.db.settleKeyChanges(); // heard by every instance that keeps keys in memory (PostgreSQL)
  await expectStatus(401, send(r, 'deactivated user', 'GET', '/api/vms/', { key: adminKey.key }));
  await r.db.kysely.updateTable('users').set({ is_active: 1 }).where('id', '=', admin.id).execute();
  await r.db.settleKeyChanges(); // heard by every instance that keeps keys in memory (PostgreSQL)

  // Leak reports: live keys (JSON and form), an already deleted key, garbage.
  await expectStatus(202, send(r, 'report leak (json)', 'POST', '/api/keys/revoke/', { json: { key: leakedJson.key } }));
  await expectStatus(202, send(r, 'report leak (form)', 'POST', '/api/keys/revoke/', { form: { key: leakedForm.key } }));
  await expectStatus(202, send(r, 'report dead key', 'POST', '/api/keys/revoke/', { json: { key: doomed.key } }));
  await expectStatus(202, send(r, 'report text', 'POST', '/api/keys/revoke/', { raw: { type: 'text/plain', body: `found this: ${k.slice(0, -1)}` } }));
  await expectStatus(401, send(r, 'reported key', 'GET', '/api/vms/', { key: leakedJson.key }));

  // Past the failed-authentication limit: 429, still without the key.
  let last = 0;
  for (let i = 0; i < 15 && last !== 429; i++) last = (await send(r, 'throttled', 'GET', '/api/vms/', { key: flipped })).status;
  expect(last).toBe(429);
  expect((await send(r, 'throttled live key', 'GET', '/api/vms/', { key: k })).status).toBeLessThan(500);
}

/** Where each issued key (or its secret) turns up in `text`. */
function findKeys(issued: string[], text: string): string[] {
  const found: string[] = [];
  for (const key of issued) {
    if (text.includes(key)) found.push(`key ${key.slice(0, 12)}…`);
    else if (text.includes(SECRET(key))) found.push(`secret of ${key.slice(0, 12)}…`);
  }
  return found;
}

/** Every row of every table, as text. */
async function dumpTables(db: Db): Promise<string> {
  const tables = db.dialect === 'postgres'
    ? (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db.kysely)).rows
    : (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db.kysely)).rows;
  expect(tables.map((t) => t.name)).toContain('api_keys');
  let out = '';
  for (const { name } of tables) {
    const rows = (await sql`select * from ${sql.table(name)}`.execute(db.kysely)).rows;
    out += `${name}: ${JSON.stringify(rows)}\n`;
  }
  return out;
}

function expectNoKeyAnywhere(r: Run, tables: string) {
  expect(r.issued.length).toBe(11);
  // The capture works: the log has the scenario's requests in it.
  const logText = r.logs.join('');
  expect(r.portal.app.log.level).toBe('debug');
  expect(logText).toContain('"msg":"incoming request"');
  expect(logText).toContain('"url":"/api/keys/revoke/"');
  expect(findKeys(r.issued, logText), 'in the log').toEqual([]);
  expect(findKeys(r.issued, tables), 'in a table').toEqual([]);
  const prefixes = r.issued.map((k) => k.slice(4, 12));
  for (const p of prefixes) expect(tables).toContain(p);
  for (const a of r.answers) {
    const others = r.issued.filter((k) => k !== a.mayHold);
    expect(findKeys(others, a.body), a.what).toEqual([]);
    if (a.mayHold) expect(a.body).toContain(a.mayHold);
  }
  expect(r.answers.length).toBeGreaterThan(50);
}

describe('no key is ever written down', () => {
  it('a SQLite file database: not in the log, the answers, the tables, nor any file of the database directory', async () => {
    const dir = tempDir('simplevm-leaks-');
    cleanups.push(dir.remove);
    const file = path.join(dir.dir, 'portal.sqlite');
    const r = await start(file);
    await capturingStdio(r.logs, () => scenario(r));
    const tables = await dumpTables(r.db);

    const readDir = () => {
      const files = fs.readdirSync(dir.dir);
      return { files, text: files.map((f) => fs.readFileSync(path.join(dir.dir, f)).toString('latin1')).join('\n') };
    };
    // While it runs (recent writes sit in the -wal file)…
    const open = readDir();
    expect(open.files).toEqual(expect.arrayContaining(['portal.sqlite', 'portal.sqlite-wal', 'portal.sqlite-shm']));
    expect(open.text).toContain(r.issued[0].slice(4, 12)); // the prefixes are there: the search would find keys
    expect(findKeys(r.issued, open.text), 'in the database files').toEqual([]);
    await r.close();
    // …and once closed and checkpointed.
    const closed = readDir();
    expect(findKeys(r.issued, closed.text), 'in the database files after close').toEqual([]);
    expectNoKeyAnywhere(r, tables);
  });

  it('the database of this run (PostgreSQL with TEST_DATABASE_URL): not in the log, the answers or the tables', async () => {
    const fresh = await freshDatabaseUrl();
    const r = await start(fresh.url);
    cleanups.push(async () => {
      await r.close();
      await fresh.drop();
    });
    await capturingStdio(r.logs, () => scenario(r));
    const tables = await dumpTables(r.db);
    await r.close();
    expectNoKeyAnywhere(r, tables);
  });
});
