// The service functions that make accounts and projects (users.service, sessions.service's
// setUserPassword, projects.service's createProject and addProjectMember) and the first start that
// composes them in one transaction, on a real database. The command line is tested through them in
// cli.test.ts; these are the rules themselves, whoever calls them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/server/auth/tokens.js';
import { bootstrapIfEmpty } from '../src/server/bootstrap.js';
import { AppError } from '../src/server/errors.js';
import { addProjectMember, createProject } from '../src/server/modules/projects/projects.service.js';
import { setUserPassword } from '../src/server/modules/sessions/sessions.service.js';
import { createUser, setUserFlags } from '../src/server/modules/users/users.service.js';
import { DEFAULT_QUOTA } from '../src/shared/contract.js';
import { PASSWORD, type TestPortal, buildTestApp, unique } from './helpers.js';

let t: TestPortal;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t?.close());

const db = () => t.ctx.db.kysely;

/** The code of what `p` throws. */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('expected a refusal');
}

const me = (session: { cookie: string; csrf: string }) => t.http.get('/api/auth/me', { as: session });

describe('accounts', () => {
  it('createUser makes an active account that logs in; a taken or malformed name and an empty password are refused', async () => {
    const name = unique('acct');
    const user = await createUser(db(), { username: name, password: PASSWORD, isSuperuser: true });
    expect(user).toMatchObject({ username: name, is_superuser: 1, is_active: 1 });
    expect((await me(await t.factory.login(name))).data).toMatchObject({ username: name, is_superuser: true });

    expect(await refusal(createUser(db(), { username: name, password: 'another one' }))).toBe(`conflict: user "${name}" exists already`);
    expect(await refusal(createUser(db(), { username: 'no spaces', password: PASSWORD }))).toMatch(/^invalid: username/);
    expect(await refusal(createUser(db(), { username: 'x'.repeat(151), password: PASSWORD }))).toMatch(/^invalid: username/);
    expect(await refusal(createUser(db(), { username: unique('acct'), password: '' }))).toMatch(/^invalid: password/);
  });

  it('setUserFlags changes only the flags given, for an existing user', async () => {
    const u = await t.factory.user();
    expect(await setUserFlags(db(), u.username, { isSuperuser: true })).toMatchObject({ is_superuser: 1, is_active: 1 });
    expect(await setUserFlags(db(), u.username, { isActive: false })).toMatchObject({ is_superuser: 1, is_active: 0 });
    expect((await me(u.session)).statusCode).toBe(401);
    expect(await setUserFlags(db(), u.username, {})).toMatchObject({ is_superuser: 1, is_active: 0 });
    expect(await refusal(setUserFlags(db(), unique('nobody'), { isActive: true }))).toMatch(/^not_found: no user/);
  });

  it('setUserPassword sets the password and ends the user\'s sessions, all of them or all but one', async () => {
    const u = await t.factory.user();
    const other = await t.factory.login(u.username);
    await setUserPassword(db(), u.username, 'the second password');
    expect((await me(u.session)).statusCode).toBe(401);
    expect((await me(other)).statusCode).toBe(401);
    await expect(t.factory.login(u.username)).rejects.toThrow(/login failed: 401/);

    // The session that changes its own password stays; the others end.
    const kept = await t.factory.login(u.username, 'the second password');
    const ended = await t.factory.login(u.username, 'the second password');
    const token = decodeURIComponent(kept.cookie.slice(kept.cookie.indexOf('=') + 1));
    await setUserPassword(db(), u.username, 'the third password', { keepSessionId: sha256Hex(token) });
    expect((await me(kept)).statusCode).toBe(200);
    expect((await me(ended)).statusCode).toBe(401);
    await t.factory.login(u.username, 'the third password');

    expect(await refusal(setUserPassword(db(), unique('nobody'), 'whatever it is'))).toMatch(/^not_found: no user/);
    expect(await refusal(setUserPassword(db(), u.username, ''))).toMatch(/^invalid: password/);
  });
});

describe('projects', () => {
  it('createProject fills in the default quota; a taken or malformed name and a bad quota are refused', async () => {
    const admin = await t.factory.user({ superuser: true });
    const name = unique('proj');
    const made = await createProject(db(), { name, quota: { vms: 3 } });
    expect(made).toEqual({ id: expect.any(Number), name });
    expect((await t.http.get(`/api/projects/${made.id}/`, { as: admin.session })).data.quota).toEqual({ ...DEFAULT_QUOTA, vms: 3 });

    expect(await refusal(createProject(db(), { name }))).toBe(`conflict: project "${name}" exists already`);
    expect(await refusal(createProject(db(), { name: '' }))).toMatch(/^invalid: name/);
    expect(await refusal(createProject(db(), { name: 'tab\there' }))).toMatch(/^invalid: name/);
    expect(await refusal(createProject(db(), { name: unique('proj'), quota: { cores: -1 } }))).toMatch(/^invalid: cores/);
    expect(await refusal(createProject(db(), { name: unique('proj'), quota: { ram_gb: 2 ** 31 } }))).toMatch(/^invalid: ram_gb/);
  });

  it('addProjectMember finds the project by id or name and sets the role, which a second call changes', async () => {
    const [a, b] = await Promise.all([t.factory.user(), t.factory.user()]);
    const p = await createProject(db(), { name: unique('proj') });
    expect(await addProjectMember(db(), { project: p.id, username: a.username, role: 'member' })).toEqual({ project_id: p.id, project: p.name, username: a.username, role: 'member' });
    await addProjectMember(db(), { project: p.name, username: b.username, role: 'admin' });
    await addProjectMember(db(), { project: String(p.id), username: a.username, role: 'admin' });
    const members = (await t.http.get(`/api/projects/${p.id}/`, { as: a.session })).data.members;
    expect(members).toEqual([{ username: a.username, role: 'admin' }, { username: b.username, role: 'admin' }].sort((x, y) => x.username.localeCompare(y.username)));

    expect(await refusal(addProjectMember(db(), { project: unique('nope'), username: a.username, role: 'member' }))).toMatch(/^not_found: no project/);
    expect(await refusal(addProjectMember(db(), { project: p.id, username: unique('nobody'), role: 'member' }))).toMatch(/^not_found: no user/);
  });
});

describe('the first start', () => {
  it('on an empty database makes admin and demo exactly once, however many start together', async () => {
    const empty = await buildTestApp({}, { worker: false });
    try {
      const passwords = await Promise.all([bootstrapIfEmpty(empty.ctx), bootstrapIfEmpty(empty.ctx), bootstrapIfEmpty(empty.ctx)]);
      const made = passwords.filter((p): p is string => p !== null);
      expect(made).toHaveLength(1);
      expect(await bootstrapIfEmpty(empty.ctx)).toBeNull();

      const admin = await empty.factory.login('admin', made[0]);
      expect((await empty.http.get('/api/auth/me', { as: admin })).data).toMatchObject({ username: 'admin', is_superuser: true });
      expect((await empty.http.get('/api/projects/', { as: admin })).data).toEqual([expect.objectContaining({ name: 'demo', role: 'admin' })]);
      const demo = (await empty.http.get('/api/projects/', { as: admin })).data[0];
      expect((await empty.http.get(`/api/projects/${demo.id}/`, { as: admin })).data.quota).toEqual(DEFAULT_QUOTA);
    } finally {
      await empty.close();
    }
  });
});
