// Request → principal. An API key (X-API-KEY or Authorization: Bearer) wins over the cookie:
// a request that presents a key is judged by that key alone.
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { rememberKeyIp } from '../modules/audit/audit.repository.js';
import { writeAudit } from '../modules/audit/audit.service.js';
import { findKeyForAuth, touchKey } from '../modules/keys/keys.repository.js';
import { findLiveSession } from '../modules/sessions/sessions.repository.js';
import { digestKey, parseKey } from './key-format.js';
import type { Principal, Scope } from './principal.js';
import { constantTimeEqual, sha256Hex } from './tokens.js';

export const SESSION_COOKIE = 'simplevm_session';

/** One body for every kind of bad key, so that a caller learns nothing about which it was. */
export const badKey = () => new AppError('not_authenticated', 'Authentication failed: the API key is not valid.');

/**
 * Longest credential header looked at: a key is 51 characters, so anything much longer is refused
 * as a bad key without being read further.
 */
export const MAX_CREDENTIAL_HEADER = 1024;

/** The key the request presents ('' for one that cannot be a key), or undefined when it presents none. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (header !== undefined) {
    const value = Array.isArray(header) ? header[0] ?? '' : header;
    return value.length > MAX_CREDENTIAL_HEADER ? '' : value;
  }
  const authz = request.headers.authorization;
  return authz === undefined ? undefined : bearerToken(authz);
}

const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\v' || c === '\f' || c === '\u00a0';

/**
 * The token of `Bearer <token>` (scheme case-insensitive, spaces around the token allowed), or ''
 * when the header is anything else. One pass over at most MAX_CREDENTIAL_HEADER characters: a
 * regular expression here ran before any rate limit and backtracked quadratically on long runs of
 * spaces (issue 16).
 */
export function bearerToken(header: string): string {
  const n = header.length;
  if (n > MAX_CREDENTIAL_HEADER || n < 7 || header.slice(0, 6).toLowerCase() !== 'bearer' || !isSpace(header[6])) return '';
  let i = 7;
  while (i < n && isSpace(header[i])) i++;
  const start = i;
  while (i < n && !isSpace(header[i])) i++;
  const token = header.slice(start, i);
  while (i < n && isSpace(header[i])) i++;
  return i === n ? token : '';
}

const LAST_USED_EVERY_MS = 60_000;

/** `new Date(ms).toISOString()`, made once per millisecond however many requests it serves. */
let isoMs = Number.NaN;
let iso = '';
function isoOf(ms: number): string {
  if (ms !== isoMs) {
    iso = new Date(ms).toISOString();
    isoMs = ms;
  }
  return iso;
}

/** A key's scopes, parsed once per row read (rows a read cache keeps are shared and frozen). */
const parsedScopes = new Map<string, Scope[]>();
function scopesOf(json: string): Scope[] {
  let scopes = parsedScopes.get(json);
  if (!scopes) {
    scopes = Object.freeze(JSON.parse(json) as Scope[]) as Scope[];
    // Few distinct sets of scopes exist; bounded all the same.
    if (parsedScopes.size >= 1000) parsedScopes.clear();
    parsedScopes.set(json, scopes);
  }
  return scopes;
}

export class Authenticator {
  /** When this instance last wrote `last_used_at` for each key: at most one write a minute. */
  private readonly lastTouched = new Map<number, number>();

  constructor(private readonly ctx: AppContext) {}

  /** `key`: what presentedKey(request) found, when the caller has already looked. */
  authenticate(request: FastifyRequest, key = presentedKey(request)): Promise<Principal | null> {
    // Not async: the promise of byKey is handed on as it is, without another turn.
    if (key !== undefined) return this.byKey(key, request.ip);
    const token = request.cookies?.[SESSION_COOKIE];
    return token ? this.bySession(token, request.ip) : Promise.resolve(null);
  }

  async byKey(key: string, ip: string): Promise<Principal> {
    const prefix = parseKey(key);
    if (prefix === null) throw badKey();
    const row = await findKeyForAuth(this.ctx.db.kysely, prefix);
    const now = Date.now();
    const nowIso = isoOf(now);
    if (!row || !constantTimeEqual(row.digest, digestKey(key)) || row.expires_at <= nowIso || row.is_active !== 1) throw badKey();
    if (this.ctx.config.apiKeysFor === 'superusers' && row.is_superuser !== 1) {
      throw new AppError('api_keys_not_enabled', 'API keys are in beta and enabled only for superusers.');
    }
    this.noteUse(row.id, row.last_used_at, now);
    const address = this.noteAddress(row.id, row.prefix, row.project_id, { id: row.user_id, username: row.username }, ip);
    if (address) await address;
    return {
      user: { id: row.user_id, username: row.username, isSuperuser: row.is_superuser === 1 },
      via: 'key',
      key: {
        id: row.id,
        prefix: row.prefix,
        scopes: scopesOf(row.scopes),
        ownObjectsOnly: row.own_objects_only === 1,
        projectId: row.project_id,
      },
      sessionId: null,
      csrfToken: null,
      ip,
    };
  }

  /** Addresses already known for a key on this instance; a new one is recorded once (`key.new_ip`). */
  private readonly knownAddresses = new Set<string>();

  private noteAddress(keyId: number, prefix: string, projectId: number | null, user: { id: number; username: string }, ip: string): Promise<void> | undefined {
    const token = `${keyId}|${ip}`;
    if (this.knownAddresses.has(token)) return undefined;
    return this.recordAddress(keyId, prefix, projectId, user, ip, token);
  }

  private async recordAddress(keyId: number, prefix: string, projectId: number | null, user: { id: number; username: string }, ip: string, token: string): Promise<void> {
    await this.ctx.db.kysely.transaction().execute(async (trx) => {
      if (await rememberKeyIp(trx, keyId, ip, new Date().toISOString())) {
        await writeAudit(trx, user, prefix, ip, { action: 'key.new_ip', objectType: 'api_key', objectId: String(keyId), subjectId: user.id, projectId });
      }
    });
    if (this.knownAddresses.size > 100_000) this.knownAddresses.clear();
    this.knownAddresses.add(token);
  }

  private noteUse(keyId: number, lastUsedAt: string | null, ms: number): void {
    const touched = this.lastTouched.get(keyId) ?? 0;
    if (ms - touched < LAST_USED_EVERY_MS) return;
    const last = Math.max(touched, lastUsedAt ? Date.parse(lastUsedAt) : 0);
    if (ms - last < LAST_USED_EVERY_MS) return;
    this.lastTouched.set(keyId, ms);
    // Off the request path: a read must not wait for a write.
    touchKey(this.ctx.db.kysely, keyId, isoOf(ms)).catch(() => this.lastTouched.delete(keyId));
  }

  async bySession(token: string, ip: string): Promise<Principal | null> {
    const id = sha256Hex(token);
    const row = await findLiveSession(this.ctx.db.kysely, id, new Date().toISOString());
    if (!row) return null;
    return {
      user: { id: row.user_id, username: row.username, isSuperuser: row.is_superuser === 1 },
      via: 'session',
      key: null,
      sessionId: id,
      csrfToken: row.csrf_token,
      ip,
    };
  }
}
