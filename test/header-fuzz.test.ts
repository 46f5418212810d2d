// Every header the portal parses, fuzzed with long and crafted values (issue 16): Authorization,
// X-API-KEY, Cookie, X-CSRF-Token, X-Forwarded-For (behind a trusted proxy, so that it is parsed),
// Origin, Sec-Fetch-Site and Host. Values are runs of the characters parsers split on or repeat
// (spaces, tabs, commas, semicolons, `=`, `%`, quotes, the key's own `svm_`), up to 15,000 characters,
// Node's header limit being 16 KB. Every answer must be below 500, a JSON error when it is one, and
// come within a time bound: a parser that is quadratic on such input takes seconds here.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestPortal, type TestUser, buildTestApp } from './helpers.js';

/**
 * Per request, on a busy 2-core machine: a coarse bound, since a login hashes a password (scrypt)
 * and a loaded machine can take a few hundred ms for that alone. The sharp check of each parser is
 * the worst-case test below (best of three under 50 ms, where the quadratic pattern took 150 ms).
 */
const BOUND_MS = 1000;

let t: TestPortal;
let user: TestUser;
let key: string;
let projectId: number;
beforeAll(async () => {
  t = await buildTestApp({ SIMPLEVM_TRUST_PROXY: '1' });
  user = await t.factory.user({ superuser: true });
  key = (await t.factory.key(user, { own_objects_only: false })).key;
  projectId = (await t.factory.project({ admins: [user] })).id;
});
afterAll(() => t?.close());

const PIECES = [
  ' ', '\t', 'Bearer', 'Bearer ', 'bearer\t', ',', ', ', ';', '; ', '=', '==', '%', '%5F', '%zz', '"', '\\', 'a', '0', 'svm_', 'svm_aaaaaaaa_',
  '\u00a0', '\u00ff', '1.2.3.4', '::1', '[', ']', ':', '.', '/', 'x y', 'simplevm_session=', 'http://', 'null',
];

/** A crafted value: one to three runs of pieces, sometimes around a real credential. */
const crafted = (real: string[]) =>
  fc
    .tuple(
      fc.array(fc.tuple(fc.constantFrom(...PIECES), fc.integer({ min: 1, max: 5000 })), { minLength: 1, maxLength: 3 }),
      fc.option(fc.constantFrom(...real), { nil: undefined }),
      fc.boolean(),
    )
    .map(([runs, credential, before]) => {
      const noise = runs.map(([piece, n]) => piece.repeat(n)).join('').slice(0, 15_000);
      if (credential === undefined) return noise;
      return (before ? `${credential}${noise}` : `${noise}${credential}`).slice(0, 15_000);
    });

const HEADERS = ['authorization', 'x-api-key', 'cookie', 'x-csrf-token', 'x-forwarded-for', 'origin', 'sec-fetch-site', 'host'] as const;
const TARGETS = [
  { method: 'GET', url: '/api/vms/' },
  { method: 'GET', url: '/api/auth/me' },
  { method: 'POST', url: '/api/auth/login', body: () => ({ username: user.username, password: 'wrong' }) },
  // Judges the session and the CSRF token, then a password (never the right one here).
  { method: 'POST', url: '/api/auth/password', body: () => ({ current_password: 'wrong', new_password: 'a new password, long enough' }) },
  { method: 'POST', url: '/api/vms/', body: () => ({ project_id: projectId, image_name: 'Debian-12', flavor_name: 'de.NBI tiny', vm_name: 'fuzz' }) },
  { method: 'POST', url: '/api/keys/revoke/', body: () => ({ key }) },
  { method: 'GET', url: '/healthz' },
  // The research environment proxy judges credentials itself (spec §9): a session, never a key.
  { method: 'GET', url: '/resenv/00000000-0000-4000-8000-000000000000/' },
] as const;

describe('fuzzing the headers the portal parses', () => {
  it('answers every crafted header below 500, as JSON, within the bound', async () => {
    const session = user.session;
    const real = [key, `Bearer ${key}`, session.cookie, session.csrf];
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...TARGETS),
        fc.uniqueArray(fc.constantFrom(...HEADERS), { minLength: 1, maxLength: 3 }),
        fc.array(crafted(real), { minLength: 3, maxLength: 3 }),
        fc.boolean(),
        async (target, names, values, withSession) => {
          const headers: Record<string, string> = withSession ? { cookie: session.cookie, 'x-csrf-token': session.csrf } : {};
          names.forEach((name, i) => {
            headers[name] = values[i];
          });
          const body = 'body' in target ? JSON.stringify(target.body()) : undefined;
          if (body) headers['content-type'] = 'application/json';
          const started = performance.now();
          const res = await t.app.inject({ method: target.method, url: target.url, headers, payload: body });
          const ms = performance.now() - started;
          sent++;
          expect(res.statusCode, `${target.method} ${target.url} with ${names.join(', ')}`).toBeLessThan(500);
          expect(ms, `${target.method} ${target.url} with ${names.join(', ')} (${names.map((n) => headers[n].length).join(', ')} chars)`).toBeLessThan(BOUND_MS);
          if (res.statusCode >= 400) {
            const error = res.json() as { detail?: unknown; code?: unknown };
            expect(typeof error.detail).toBe('string');
            expect(typeof error.code).toBe('string');
          }
        },
      ),
      { numRuns: 300, seed: 20261206, endOnFailure: true },
    );
    expect(sent).toBe(300);
  }, 120_000);

  it('survives the worst case of each header alone, over and over', async () => {
    for (const name of HEADERS) {
      for (const value of [`Bearer${' '.repeat(15_000)}x y`, `${'\t'.repeat(14_990)}svm_x`, `${', '.repeat(7_000)}1.2.3.4`, `${'a=b; '.repeat(3000)}`, `${'%'.repeat(15_000)}`]) {
        // The best of three, so that a busy machine's pauses do not count; the quadratic pattern
        // took about 150 ms on each of these.
        let best = Number.POSITIVE_INFINITY;
        for (let round = 0; round < 3; round++) {
          const started = performance.now();
          const res = await t.app.inject({ method: 'GET', url: '/api/vms/', headers: { [name]: value } });
          best = Math.min(best, performance.now() - started);
          expect(res.statusCode, name).toBeLessThan(500);
        }
        expect(best, `${name}: ${value.slice(0, 12)}…`).toBeLessThan(50);
      }
    }
  });
});
