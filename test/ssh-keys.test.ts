// Public SSH keys on the profile (spec §9): GET/POST /api/profile/ssh-keys/ and DELETE …/{id}/,
// through real HTTP handling, with keys made by OpenSSH's own ssh-keygen (Debian's openssh-client):
// every accepted type is stored with the fingerprint `ssh-keygen -lf` prints; weak, malformed and
// duplicate keys are refused and store nothing; a generated private key is one `ssh-keygen -y`
// reads, and it never reaches the log nor the audit log.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicKeysOfUsers } from '../src/server/modules/ssh-keys/ssh-keys.repository.js';
import { MAX_SSH_KEYS_PER_USER } from '../src/server/modules/ssh-keys/ssh-keys.service.js';
import { type TestPortal, type TestUser, buildTestApp } from './helpers.js';
import { tempDir } from './process.js';

const BASE = '/api/profile/ssh-keys/';
const ENV = { SIMPLEVM_AUTH_FAIL_LIMIT: '0', SIMPLEVM_RATE_LIMIT: '0', SIMPLEVM_LOG_LEVEL: 'trace' };
const PRIVATE_HEADER = '-----BEGIN OPENSSH PRIVATE KEY-----';

const tmp = tempDir('simplevm-ssh-keys-');
let t: TestPortal;
const logLines: string[] = [];

/** A key made by ssh-keygen: its .pub line and what `ssh-keygen -lf` says of it. */
interface MadeKey {
  file: string;
  line: string;
  type: string;
  base64: string;
  fingerprint: string;
}

function sshKeygen(args: string[]): string {
  return execFileSync('ssh-keygen', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `ssh-keygen -lf FILE`: "256 SHA256:… comment (ED25519)" → the fingerprint. */
const fingerprintOf = (file: string) => sshKeygen(['-l', '-f', file]).split(' ')[1];

function makeKey(name: string, typeArgs: string[]): MadeKey {
  const file = path.join(tmp.dir, name);
  sshKeygen(['-q', ...typeArgs, '-N', '', '-C', `${name}@laptop`, '-f', file]);
  const line = readFileSync(`${file}.pub`, 'utf8');
  const [type, base64] = line.trim().split(' ');
  return { file: `${file}.pub`, line, type, base64, fingerprint: fingerprintOf(`${file}.pub`) };
}

let accepted: Record<string, MadeKey>;
let weak: { rsa1024: MadeKey; dsa: MadeKey };

beforeAll(async () => {
  t = await buildTestApp(ENV, { logStream: { write: (line: string) => void logLines.push(line) } });
  accepted = {
    'ssh-ed25519': makeKey('ed25519', ['-t', 'ed25519']),
    'ecdsa-sha2-nistp256': makeKey('ecdsa256', ['-t', 'ecdsa', '-b', '256']),
    'ecdsa-sha2-nistp384': makeKey('ecdsa384', ['-t', 'ecdsa', '-b', '384']),
    'ecdsa-sha2-nistp521': makeKey('ecdsa521', ['-t', 'ecdsa', '-b', '521']),
    'ssh-rsa': makeKey('rsa2048', ['-t', 'rsa', '-b', '2048']),
  };
  weak = { rsa1024: makeKey('rsa1024', ['-t', 'rsa', '-b', '1024']), dsa: makeKey('dsa', ['-t', 'dsa']) };
}, 60_000);
afterAll(async () => {
  await t?.close();
  tmp.remove();
});

type Res = Awaited<ReturnType<TestPortal['http']['get']>>;

function expectInvalid(res: Res, field: string, text?: RegExp): void {
  expect({ status: res.statusCode, code: res.data?.code }, res.body).toEqual({ status: 400, code: 'invalid' });
  expect(typeof res.data.detail).toBe('string');
  expect(Object.keys(res.data.errors ?? {}), res.body).toContain(field);
  if (text) expect(res.data.errors[field].join(' ')).toMatch(text);
}

const add = (user: TestUser, body: Record<string, unknown>, form = false) => t.http.post(BASE, { as: user.session, body, form });
const list = async (user: TestUser) => {
  const res = await t.http.get(BASE, { as: user.session });
  expect(res.statusCode).toBe(200);
  return res.data as { id: number; name: string; type: string; fingerprint: string; created_at: string }[];
};
const storedRows = (user: TestUser) =>
  t.ctx.db.kysely.selectFrom('ssh_keys').select(['id', 'name', 'type', 'public_key', 'fingerprint']).where('user_id', '=', user.id).orderBy('id').execute();
const auditRows = (user: TestUser) =>
  t.ctx.db.kysely.selectFrom('audit_events').selectAll().where('subject_id', '=', user.id).where('action', 'like', 'ssh_key.%').orderBy('id').execute();

describe('adding keys made by ssh-keygen', () => {
  it('accepts every accepted type (JSON and form bodies), with the fingerprint ssh-keygen -lf prints', async () => {
    const user = await t.factory.user();
    let form = false;
    for (const [type, key] of Object.entries(accepted)) {
      const res = await add(user, { name: `my ${type}`, public_key: key.line }, form);
      expect(res.statusCode, res.body).toBe(201);
      expect(res.data).toEqual({
        id: expect.any(Number),
        name: `my ${type}`,
        type,
        fingerprint: key.fingerprint,
        created_at: expect.any(String),
        public_key: `${type} ${key.base64} my ${type}`,
      });
      expect(res.data.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      form = !form;
    }
    const listed = await list(user);
    expect(listed.map((k) => [k.name, k.type, k.fingerprint])).toEqual(Object.entries(accepted).map(([type, key]) => [`my ${type}`, type, key.fingerprint]));
    for (const k of listed) expect(Object.keys(k).sort()).toEqual(['created_at', 'fingerprint', 'id', 'name', 'type']);
    // Stored as the normalized line `type base64 name`: ssh-keygen reads it back to the same fingerprint.
    const rows = await storedRows(user);
    for (const row of rows) {
      expect(row.public_key).toBe(`${row.type} ${accepted[row.type].base64} ${row.name}`);
      const file = path.join(tmp.dir, `stored-${row.id}.pub`);
      writeFileSync(file, `${row.public_key}\n`);
      expect(fingerprintOf(file)).toBe(row.fingerprint);
    }
  });

  it('takes a larger RSA key, a key without a comment, and surrounding whitespace; the name is trimmed', async () => {
    const user = await t.factory.user();
    const rsa3072 = makeKey('rsa3072', ['-t', 'rsa', '-b', '3072']);
    const big = await add(user, { name: 'big', public_key: rsa3072.line });
    expect(big.statusCode, big.body).toBe(201);
    expect(big.data).toMatchObject({ type: 'ssh-rsa', fingerprint: rsa3072.fingerprint });
    const key = accepted['ssh-ed25519'];
    const bare = await add(user, { name: '  spaced name  ', public_key: `\n  ${key.type}\t${key.base64}  \r\n` });
    expect(bare.statusCode, bare.body).toBe(201);
    expect(bare.data).toMatchObject({ name: 'spaced name', fingerprint: key.fingerprint, public_key: `${key.type} ${key.base64} spaced name` });
  });

  it('another user may add the same key', async () => {
    const [a, b] = [await t.factory.user(), await t.factory.user()];
    const key = accepted['ecdsa-sha2-nistp256'];
    expect((await add(a, { name: 'shared', public_key: key.line })).statusCode).toBe(201);
    expect((await add(b, { name: 'shared', public_key: key.line })).statusCode).toBe(201);
  });
});

describe('refusals: 400 invalid, naming the problem, and nothing stored', () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await t.factory.user();
  });

  const ed = () => accepted['ssh-ed25519'];
  const cases: [string, () => Record<string, unknown>, string, RegExp][] = [
    ['RSA of 1024 bits', () => ({ name: 'weak', public_key: weak.rsa1024.line }), 'public_key', /1024 bits.*at least 2048/],
    ['DSA', () => ({ name: 'dsa', public_key: weak.dsa.line }), 'public_key', /DSA/],
    ['garbage', () => ({ name: 'junk', public_key: 'this is not a key at all' }), 'public_key', /must begin with the key type/],
    ['garbage base64', () => ({ name: 'junk', public_key: 'ssh-ed25519 !!not*base64!!' }), 'public_key', /not valid base64/],
    ['truncated base64 (cut at a group of four)', () => ({ name: 'cut', public_key: `ssh-ed25519 ${ed().base64.slice(0, 48)}` }), 'public_key', /truncated/],
    ['truncated base64 (cut anywhere)', () => ({ name: 'cut', public_key: `ssh-ed25519 ${ed().base64.slice(0, 50)}` }), 'public_key', /base64|truncated/],
    ['truncated RSA', () => ({ name: 'cut', public_key: `ssh-rsa ${accepted['ssh-rsa'].base64.slice(0, 200)}` }), 'public_key', /truncated/],
    ['a wrong type word', () => ({ name: 'wrong', public_key: `ssh-rsa ${ed().base64} me@laptop` }), 'public_key', /says ssh-rsa.*ssh-ed25519/],
    ['a wrong curve', () => ({ name: 'wrong', public_key: `ecdsa-sha2-nistp384 ${accepted['ecdsa-sha2-nistp256'].base64}` }), 'public_key', /nistp256/],
    ['an unknown type word', () => ({ name: 'wrong', public_key: `ssh-foo ${ed().base64}` }), 'public_key', /not a key type accepted/],
    ['a certificate type', () => ({ name: 'cert', public_key: `ssh-ed25519-cert-v01@openssh.com ${ed().base64}` }), 'public_key', /certificates/],
    ['two keys on one line', () => ({ name: 'two', public_key: `${ed().line.trim()} ${accepted['ssh-rsa'].line.trim()}` }), 'public_key', /more than one key/],
    ['two key blobs on one line', () => ({ name: 'two', public_key: `ssh-ed25519 ${ed().base64} ${accepted['ssh-rsa'].base64}` }), 'public_key', /more than one key/],
    ['two keys on two lines', () => ({ name: 'two', public_key: `${ed().line}${accepted['ssh-rsa'].line}` }), 'public_key', /more than one line/],
    ['authorized_keys options', () => ({ name: 'opts', public_key: `no-pty ${ed().line}` }), 'public_key', /must begin with the key type/],
    ['a private key', () => ({ name: 'priv', public_key: readFileSync(ed().file.replace(/\.pub$/, ''), 'utf8') }), 'public_key', /private key/],
    ['no key data', () => ({ name: 'none', public_key: 'ssh-ed25519' }), 'public_key', /missing/],
    ['an empty key', () => ({ name: 'none', public_key: '' }), 'public_key', /empty/],
    ['an over-long key', () => ({ name: 'long', public_key: `ssh-rsa ${'A'.repeat(8000)}` }), 'public_key', /8000/],
    ['a key with a control character', () => ({ name: 'ctl', public_key: `${ed().line.trim()}\u0007` }), 'public_key', /control/],
    ['neither key nor generate', () => ({ name: 'nothing' }), 'public_key', /generate=true/],
    ['both key and generate', () => ({ name: 'both', public_key: ed().line, generate: true }), 'public_key', /not both/],
    ['an empty name', () => ({ name: '', public_key: ed().line }), 'name', /./],
    ['a blank name', () => ({ name: '   ', public_key: ed().line }), 'name', /name/],
    ['no name', () => ({ public_key: ed().line }), 'name', /./],
    ['a name with a newline', () => ({ name: 'a\nb', public_key: ed().line }), 'name', /./],
    ['a name with a line separator', () => ({ name: 'a\u2028b', public_key: ed().line }), 'name', /./],
    ['a name of 101 characters', () => ({ name: 'n'.repeat(101), public_key: ed().line }), 'name', /./],
    ['a public_key of the wrong type', () => ({ name: 'n', public_key: 42 }), 'public_key', /./],
  ];
  it.each(cases)('%s', async (_label, body, field, text) => {
    expectInvalid(await add(user, body()), field, text);
    expect(await storedRows(user)).toEqual([]);
  });

  it('a key sent with curl -d unencoded (a "+" arrives as a space) is refused with a hint', async () => {
    const key = [accepted['ssh-ed25519'], accepted['ssh-rsa'], accepted['ecdsa-sha2-nistp256']].find((k) => k.base64.includes('+'));
    if (!key) return; // ssh-keygen made keys without a "+": nothing to mangle
    const res = await t.app.inject({
      method: 'POST', url: BASE,
      headers: { cookie: user.session.cookie, 'x-csrf-token': user.session.csrf, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `name=curl&public_key=${key.line.trim().replaceAll(' ', '+')}`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors.public_key.join(' ')).toContain('--data-urlencode');
    expect(await storedRows(user)).toEqual([]);
  });

  it('a duplicate (the same key again, under another name or comment) is refused; the first stays', async () => {
    const key = accepted['ssh-ed25519'];
    const first = await add(user, { name: 'first', public_key: key.line });
    expect(first.statusCode, first.body).toBe(201);
    const again = await add(user, { name: 'second', public_key: `${key.type} ${key.base64} another comment` });
    expectInvalid(again, 'public_key', /already.*"first"/);
    expect((await storedRows(user)).map((r) => r.name)).toEqual(['first']);
    // Two at once: one is stored, the other refused as a duplicate (the unique index decides).
    const rsa = accepted['ssh-rsa'];
    const both = await Promise.all([add(user, { name: 'r1', public_key: rsa.line }), add(user, { name: 'r2', public_key: rsa.line })]);
    expect(both.map((r) => r.statusCode).sort()).toEqual([201, 400]);
    expectInvalid(both.find((r) => r.statusCode === 400)!, 'public_key', /already/);
    expect((await storedRows(user)).filter((r) => r.fingerprint === rsa.fingerprint)).toHaveLength(1);
  });

  it(`a user keeps at most ${MAX_SSH_KEYS_PER_USER} keys`, async () => {
    const many = await t.factory.user();
    const rows = [];
    for (let i = 0; i < MAX_SSH_KEYS_PER_USER; i++) {
      rows.push({ user_id: many.id, name: `k${i}`, type: 'ssh-ed25519', public_key: `ssh-ed25519 x${i} k${i}`, fingerprint: `SHA256:fake${i}`, created_at: new Date().toISOString() });
    }
    await t.ctx.db.kysely.insertInto('ssh_keys').values(rows).execute();
    expectInvalid(await add(many, { name: 'one more', public_key: accepted['ssh-ed25519'].line }), 'public_key', /at most|most one may keep/);
    expect(await storedRows(many)).toHaveLength(MAX_SSH_KEYS_PER_USER);
  });
});

describe('generate=true', () => {
  it('makes an ed25519 key pair: the private key (OpenSSH format) once, which ssh-keygen -y reads to the stored public key', async () => {
    const user = await t.factory.user();
    for (const form of [false, true]) {
      const name = form ? 'made by form' : 'made by JSON';
      const res = await add(user, form ? { name, generate: 'true' } : { name, generate: true }, form);
      expect(res.statusCode, res.body).toBe(201);
      expect(res.data).toMatchObject({ name, type: 'ssh-ed25519', fingerprint: expect.stringMatching(/^SHA256:/) });
      const privateKey = res.data.private_key as string;
      expect(privateKey.startsWith(`${PRIVATE_HEADER}\n`)).toBe(true);
      expect(privateKey.trimEnd().endsWith('-----END OPENSSH PRIVATE KEY-----')).toBe(true);

      const file = path.join(tmp.dir, `generated-${res.data.id}`);
      writeFileSync(file, privateKey, { mode: 0o600 });
      const derived = sshKeygen(['-y', '-f', file]).trim();
      const [type, base64] = derived.split(' ');
      const [stored] = (await storedRows(user)).filter((r) => r.id === res.data.id);
      expect(stored.public_key).toBe(`${type} ${base64} ${name}`);
      expect(res.data.public_key).toBe(stored.public_key);
      // The private key file carries the name as its comment; its fingerprint is the stored one.
      expect(sshKeygen(['-l', '-f', file]).split(' ')).toEqual(expect.arrayContaining([stored.fingerprint, ...name.split(' ')]));

      // Returned once: the list and the stored row have no private key.
      const listed = await t.http.get(BASE, { as: user.session });
      expect(listed.body).not.toContain('PRIVATE');
      expect(listed.body).not.toContain(base64);
      expect(JSON.stringify(await t.ctx.db.kysely.selectFrom('ssh_keys').selectAll().execute())).not.toContain(privateKey.split('\n')[2]);
    }
    expect((await list(user)).map((k) => k.name)).toEqual(['made by JSON', 'made by form']);
  });

  it('generate=false with a public key adds that key', async () => {
    const user = await t.factory.user();
    const res = await add(user, { name: 'pasted', public_key: accepted['ssh-ed25519'].line, generate: false });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.data.private_key).toBeUndefined();
  });
});

describe('deleting', () => {
  it('204, and the key is gone; again 404', async () => {
    const user = await t.factory.user();
    const made = await add(user, { name: 'gone soon', public_key: accepted['ecdsa-sha2-nistp521'].line });
    const kept = await add(user, { name: 'kept', public_key: accepted['ssh-ed25519'].line });
    const del = await t.http.delete(`${BASE}${made.data.id}/`, { as: user.session });
    expect(del.statusCode).toBe(204);
    expect(del.body).toBe('');
    expect((await list(user)).map((k) => k.id)).toEqual([kept.data.id]);
    const again = await t.http.delete(`${BASE}${made.data.id}/`, { as: user.session });
    expect(again.statusCode).toBe(404);
    expect(again.data.code).toBe('not_found');
    // Deleted, it may be added again.
    expect((await add(user, { name: 'back', public_key: accepted['ecdsa-sha2-nistp521'].line })).statusCode).toBe(201);
  });

  it('404 for an id that is not one, or does not exist', async () => {
    const user = await t.factory.user();
    for (const id of ['2147483647', '0', 'abc', '-1', '99999999999']) {
      const res = await t.http.delete(`${BASE}${id}/`, { as: user.session });
      expect(res.statusCode, id).toBe(404);
      expect(res.data.code).toBe('not_found');
    }
  });
});

describe('each user\'s own', () => {
  it('another user neither sees nor deletes a key (404, as for no key at all); a superuser neither', async () => {
    const owner = await t.factory.user();
    const other = await t.factory.user();
    const su = await t.factory.user({ superuser: true });
    const made = await add(owner, { name: 'mine', public_key: accepted['ssh-ed25519'].line });
    expect(made.statusCode).toBe(201);
    for (const stranger of [other, su]) {
      expect(await list(stranger)).toEqual([]);
      const del = await t.http.delete(`${BASE}${made.data.id}/`, { as: stranger.session });
      expect(del.statusCode).toBe(404);
      expect(del.data).toEqual((await t.http.delete(`${BASE}2147483647/`, { as: stranger.session })).data);
    }
    expect((await list(owner)).map((k) => k.id)).toEqual([made.data.id]);
    // Nothing about the key reached the others' audit logs either.
    const seen = await t.http.get('/api/audit/?page_size=500', { as: other.session });
    expect(seen.body).not.toContain(`"object_id":"${made.data.id}"`);
  });
});

describe('a web session only', () => {
  it('403 session_required for an API key (header or bearer), under /api/ and /portal/api/; nothing changes', async () => {
    const user = await t.factory.user();
    const made = await add(user, { name: 'mine', public_key: accepted['ssh-ed25519'].line });
    const { key } = await t.factory.key(user);
    for (const as of [{ key }, { bearer: key }]) {
      for (const prefix of ['/api', '/portal/api']) {
        const url = `${prefix}/profile/ssh-keys/`;
        for (const res of [
          await t.http.get(url, { as }),
          await t.http.post(url, { as, body: { name: 'k', public_key: accepted['ssh-rsa'].line } }),
          await t.http.post(url, { as, body: { name: 'k', generate: true } }),
          await t.http.delete(`${url}${made.data.id}/`, { as }),
        ]) {
          expect(res.statusCode, res.body).toBe(403);
          expect(res.data.code).toBe('session_required');
        }
      }
    }
    expect((await storedRows(user)).map((r) => r.id)).toEqual([made.data.id]);
  });

  it('401 without credentials; 403 csrf_failed for a session without the CSRF token', async () => {
    const user = await t.factory.user();
    for (const [method, url] of [['GET', BASE], ['POST', BASE], ['DELETE', `${BASE}1/`]] as const) {
      const res = await t.http.request(method, url, { body: method === 'POST' ? { name: 'k', generate: true } : undefined });
      expect(res.statusCode).toBe(401);
      expect(res.data.code).toBe('not_authenticated');
    }
    const headers = { cookie: user.session.cookie };
    const post = await t.http.post(BASE, { headers, body: { name: 'k', generate: true } });
    expect(post.statusCode).toBe(403);
    expect(post.data.code).toBe('csrf_failed');
    expect(await storedRows(user)).toEqual([]);
  });

  it('the same routes answer under /portal/api/', async () => {
    const user = await t.factory.user();
    const made = await t.http.post('/portal/api/profile/ssh-keys/', { as: user.session, body: { name: 'portal', public_key: accepted['ssh-ed25519'].line } });
    expect(made.statusCode, made.body).toBe(201);
    expect((await t.http.get('/portal/api/profile/ssh-keys', { as: user.session })).data.map((k: { id: number }) => k.id)).toEqual([made.data.id]);
    expect((await t.http.delete(`/portal/api/profile/ssh-keys/${made.data.id}`, { as: user.session })).statusCode).toBe(204);
  });
});

describe('audit events', () => {
  it('ssh_key.create and ssh_key.delete, object_type ssh_key, in the user\'s own log; a refused create is a failure', async () => {
    const user = await t.factory.user();
    const made = await add(user, { name: 'audited', public_key: accepted['ssh-rsa'].line });
    expectInvalid(await add(user, { name: 'weak', public_key: weak.rsa1024.line }), 'public_key');
    expect((await t.http.delete(`${BASE}${made.data.id}/`, { as: user.session })).statusCode).toBe(204);
    const rows = await auditRows(user);
    expect(rows.map((r) => [r.action, r.object_type, r.object_id, r.outcome, r.actor])).toEqual([
      ['ssh_key.create', 'ssh_key', String(made.data.id), 'success', user.username],
      ['ssh_key.create', 'ssh_key', null, 'failure', user.username],
      ['ssh_key.delete', 'ssh_key', String(made.data.id), 'success', user.username],
    ]);
    const mine = await t.http.get('/api/audit/?page_size=500', { as: user.session });
    const actions = (mine.data.results as { action: string }[]).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['ssh_key.create', 'ssh_key.delete']));
    const filtered = await t.http.get('/api/audit/?action=ssh_key.delete', { as: user.session });
    expect(filtered.data.results).toMatchObject([{ action: 'ssh_key.delete', object_type: 'ssh_key', object_id: String(made.data.id) }]);
  });
});

describe('the private key stays secret', () => {
  it('never reaches the log (at trace level) nor the audit log', async () => {
    const user = await t.factory.user();
    const res = await add(user, { name: 'secret', generate: true });
    expect(res.statusCode).toBe(201);
    const privateKey = res.data.private_key as string;
    const body = privateKey.split('\n').filter((l) => l && !l.startsWith('-----'));
    expect(body.length).toBeGreaterThan(2);
    // The request was logged (the log works), the key was not.
    const log = logLines.join('');
    expect(log).toContain('/api/profile/ssh-keys/');
    for (const piece of body) expect(log).not.toContain(piece);
    expect(log).not.toContain('OPENSSH PRIVATE KEY');
    const audit = JSON.stringify(await t.ctx.db.kysely.selectFrom('audit_events').selectAll().execute());
    for (const piece of body) expect(audit).not.toContain(piece);
  });
});

describe('publicKeysOfUsers (for VM creation)', () => {
  it('answers the users\' keys as stored, in the order the users are given (a VM\'s creator first), each user\'s as added; none for no users', async () => {
    const [a, b, c] = [await t.factory.user(), await t.factory.user(), await t.factory.user()];
    const bKey = await add(b, { name: 'b one', public_key: accepted['ecdsa-sha2-nistp384'].line });
    const aFirst = await add(a, { name: 'a one', public_key: accepted['ssh-ed25519'].line });
    const aSecond = await add(a, { name: 'a two', generate: true });
    for (const r of [bKey, aFirst, aSecond]) expect(r.statusCode, r.body).toBe(201);
    const keys = await publicKeysOfUsers(t.ctx.db.kysely, [b.id, a.id, c.id, a.id]);
    expect(keys).toEqual([
      { user_id: b.id, name: 'b one', type: 'ecdsa-sha2-nistp384', public_key: bKey.data.public_key, fingerprint: bKey.data.fingerprint },
      { user_id: a.id, name: 'a one', type: 'ssh-ed25519', public_key: aFirst.data.public_key, fingerprint: aFirst.data.fingerprint },
      { user_id: a.id, name: 'a two', type: 'ssh-ed25519', public_key: aSecond.data.public_key, fingerprint: aSecond.data.fingerprint },
    ]);
    expect(await publicKeysOfUsers(t.ctx.db.kysely, [])).toEqual([]);
    expect(await publicKeysOfUsers(t.ctx.db.kysely, [c.id])).toEqual([]);
  });
});
