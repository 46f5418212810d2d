// Pure rules of single sign-on: what the provider's claims make of a portal user (username,
// e-mail, superuser), and which return paths a login may be sent back to.

import { trimChars } from '../../shared/text.js';

export type Claims = Record<string, unknown>;

/** Usernames as the command line allows them (spec §1). */
const USERNAME_CHARS = /[^A-Za-z0-9_.@+-]+/g;
const USERNAME_MAX = 150;
/** Room left for a `-N` suffix when the name is taken. */
const BASE_MAX = USERNAME_MAX - 8;

function stringClaim(claims: Claims, name: string): string | null {
  const v = claims[name];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

/**
 * A claim by name; a dotted name that is not itself a claim walks into objects
 * (`realm_access.roles`, as Keycloak nests roles).
 */
export function claimAt(claims: Claims, name: string): unknown {
  if (name in claims) return claims[name];
  let at: unknown = claims;
  for (const part of name.split('.')) {
    if (at === null || typeof at !== 'object' || Array.isArray(at) || !(part in at)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/** Whether the claim holds the value: equal to it, or, for an array claim, one of its items. */
export function hasClaimValue(claims: Claims, rule: { name: string; value: string }): boolean {
  const v = claimAt(claims, rule.name);
  const matches = (item: unknown) => (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') && String(item) === rule.value;
  return Array.isArray(v) ? v.some(matches) : matches(v);
}

/** The e-mail to keep, if the provider sent a plausible one. */
export function emailOf(claims: Claims): string | null {
  const email = stringClaim(claims, 'email');
  return email && email.length <= 254 && /^[^\s@]+@[^\s@]+$/.test(email) ? email : null;
}

/**
 * The username a new user asks for: `preferred_username`, else the e-mail's local part, else
 * `user`, in the characters usernames may have (accents dropped, anything else becomes `-`).
 */
export function usernameBase(claims: Claims): string {
  const wanted = stringClaim(claims, 'preferred_username') ?? emailOf(claims)?.split('@')[0] ?? '';
  const cleaned = wanted
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(USERNAME_CHARS, '-');
  const trimmed = trimChars(cleaned, '-.').slice(0, BASE_MAX);
  return trimmed === '' ? 'user' : trimmed;
}

/** Names to try in turn when `base` is taken: base, base-2, base-3, … */
export function usernameCandidates(base: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => (i === 0 ? base : `${base}-${i + 1}`));
}

/** Only paths of the web app, never another site, are followed after login (as the web app does). */
export function safeReturnPath(next: string | null | undefined): string | null {
  if (!next || next.length > 2000) return null;
  if (!next.startsWith('/') || next.startsWith('//') || next.includes('\\') || /[\u0000-\u001f\u007f]/.test(next)) return null;
  if (next.startsWith('/login') || next.startsWith('/api/') || next.startsWith('/portal/api')) return null;
  return next;
}
