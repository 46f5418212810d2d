// The pure rules of single sign-on: superuser claim matching, usernames from claims, e-mail, and
// the return paths a login may be sent back to.
import { describe, expect, it } from 'vitest';
import { claimAt, emailOf, hasClaimValue, safeReturnPath, usernameBase, usernameCandidates } from './oidc-claims.js';

describe('hasClaimValue', () => {
  const rule = { name: 'groups', value: 'simplevm-admins' };

  it('matches an array claim that holds the value, and a string claim equal to it', () => {
    expect(hasClaimValue({ groups: ['staff', 'simplevm-admins'] }, rule)).toBe(true);
    expect(hasClaimValue({ groups: 'simplevm-admins' }, rule)).toBe(true);
  });

  it('does not match a missing claim, another value, a substring, or a different case', () => {
    expect(hasClaimValue({}, rule)).toBe(false);
    expect(hasClaimValue({ groups: [] }, rule)).toBe(false);
    expect(hasClaimValue({ groups: ['staff'] }, rule)).toBe(false);
    expect(hasClaimValue({ groups: 'simplevm-admins-old' }, rule)).toBe(false);
    expect(hasClaimValue({ groups: 'staff simplevm-admins' }, rule)).toBe(false);
    expect(hasClaimValue({ groups: ['SimpleVM-Admins'] }, rule)).toBe(false);
    expect(hasClaimValue({ groups: { 'simplevm-admins': true } }, rule)).toBe(false);
    expect(hasClaimValue({ groups: null }, rule)).toBe(false);
  });

  it('compares booleans and numbers as their text', () => {
    expect(hasClaimValue({ is_admin: true }, { name: 'is_admin', value: 'true' })).toBe(true);
    expect(hasClaimValue({ is_admin: false }, { name: 'is_admin', value: 'true' })).toBe(false);
    expect(hasClaimValue({ level: 3 }, { name: 'level', value: '3' })).toBe(true);
  });

  it('walks a dotted name into nested claims (Keycloak roles), preferring a claim named with the dot', () => {
    const claims = { realm_access: { roles: ['offline_access', 'portal-admin'] } };
    expect(claimAt(claims, 'realm_access.roles')).toEqual(['offline_access', 'portal-admin']);
    expect(hasClaimValue(claims, { name: 'realm_access.roles', value: 'portal-admin' })).toBe(true);
    expect(hasClaimValue(claims, { name: 'realm_access.nothing', value: 'portal-admin' })).toBe(false);
    expect(hasClaimValue({ 'a.b': 'x', a: { b: 'y' } }, { name: 'a.b', value: 'x' })).toBe(true);
    expect(claimAt({ a: 'text' }, 'a.length')).toBeUndefined();
  });
});

describe('usernameBase', () => {
  it('takes preferred_username, then the e-mail\'s local part, then "user"', () => {
    expect(usernameBase({ preferred_username: 'alice', email: 'a@example.org' })).toBe('alice');
    expect(usernameBase({ email: 'bob.smith@example.org' })).toBe('bob.smith');
    expect(usernameBase({ email: 'not an e-mail' })).toBe('user');
    expect(usernameBase({})).toBe('user');
    expect(usernameBase({ preferred_username: '   ' })).toBe('user');
  });

  it('keeps only the characters usernames may have', () => {
    expect(usernameBase({ preferred_username: 'Jürgen Müller' })).toBe('Jurgen-Muller');
    expect(usernameBase({ preferred_username: 'alice@example.org' })).toBe('alice@example.org');
    expect(usernameBase({ preferred_username: 'a/b\\c' })).toBe('a-b-c');
    expect(usernameBase({ preferred_username: '../..' })).toBe('user');
    expect(usernameBase({ preferred_username: '山田' })).toBe('user');
    const long = usernameBase({ preferred_username: 'x'.repeat(400) });
    expect(long.length).toBeLessThanOrEqual(142);
    for (const name of [long, ...usernameCandidates(long, 20)]) expect(name).toMatch(/^[A-Za-z0-9_.@+-]{1,150}$/);
  });
});

describe('usernameCandidates', () => {
  it('tries the name, then numbered names', () => {
    expect(usernameCandidates('bob', 4)).toEqual(['bob', 'bob-2', 'bob-3', 'bob-4']);
  });
});

describe('emailOf', () => {
  it('keeps a plausible address and drops anything else', () => {
    expect(emailOf({ email: 'a@example.org' })).toBe('a@example.org');
    expect(emailOf({ email: 'nope' })).toBeNull();
    expect(emailOf({ email: ['a@example.org'] })).toBeNull();
    expect(emailOf({ email: `${'a'.repeat(250)}@example.org` })).toBeNull();
    expect(emailOf({})).toBeNull();
  });
});

describe('safeReturnPath', () => {
  it('allows paths of the web app', () => {
    expect(safeReturnPath('/vms')).toBe('/vms');
    expect(safeReturnPath('/volumes?project=2')).toBe('/volumes?project=2');
  });

  it('refuses other sites, the login page, API paths and odd characters', () => {
    for (const bad of ['https://evil.example', '//evil.example/x', '/\\evil.example', 'vms', '/login', '/login?next=/x', '/api/keys/', '/portal/api/x', '/a\nb', '', null, undefined, `/${'a'.repeat(2001)}`]) {
      expect(safeReturnPath(bad), String(bad)).toBeNull();
    }
  });
});
