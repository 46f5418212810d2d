// Verifying an API key: the key's way from the request guard (src/server/http/guard.ts) to its row
// (keys.repository.ts). The checksum refuses forgeries without the database; the row is found by
// prefix and the digest compared in constant time.
import { digestKey, parseKey } from '../../auth/key-format.js';
import { apiKeysEnabledFor } from '../../auth/policy.js';
import type { Principal, Scope } from '../../auth/principal.js';
import { constantTimeEqual } from '../../auth/tokens.js';
import type { AppContext } from '../../context.js';
import type { KeyFeed } from '../../db/postgres/key-feed.js';
import { AppError } from '../../errors.js';
import { rememberKeyIp } from '../audit/audit.repository.js';
import { writeAudit } from '../audit/audit.service.js';
import { findKeyForAuth, touchKey } from './keys.repository.js';

/** One body for every kind of bad key, so that a caller learns nothing about which it was. */
export const badKey = () => new AppError('not_authenticated', 'Authentication failed: the API key is not valid.');

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

type KeyAuthRow = NonNullable<Awaited<ReturnType<typeof findKeyForAuth>>>;

/** Most keys kept in memory on PostgreSQL; past it the oldest kept is dropped. */
const KEPT_KEYS = 50_000;

/**
 * Key rows kept in memory on PostgreSQL, by prefix, exact while the instance's key feed holds
 * (db/postgres/key-feed.ts): a row is kept only if no key change was heard while it was read, and
 * dropped as soon as a change to its user is heard (or everything, when the feed is lost).
 * SQLite needs none of this: its read cache (db/read-cache.ts) sees every commit by itself.
 */
class KeptKeys {
  private readonly rows = new Map<string, KeyAuthRow>();
  private readonly byUser = new Map<number, Set<string>>();

  constructor(readonly feed: KeyFeed) {
    feed.onChange((userId) => (userId === null ? this.clear() : this.dropUser(userId)));
  }

  get(prefix: string): KeyAuthRow | undefined {
    return this.feed.trusted() ? this.rows.get(prefix) : undefined;
  }

  /** The key's row from memory, else from the database (and kept, when nothing changed meanwhile). */
  async read(db: AppContext['db'], prefix: string): Promise<KeyAuthRow | undefined> {
    const kept = this.get(prefix);
    if (kept) return kept;
    const generation = this.feed.generation;
    const trusted = this.feed.trusted();
    const row = await findKeyForAuth(db.kysely, prefix);
    if (row && trusted && this.feed.generation === generation && this.feed.trusted()) this.keep(row);
    return row;
  }

  private keep(row: KeyAuthRow): void {
    if (this.rows.size >= KEPT_KEYS) {
      const oldest = this.rows.keys().next().value as string;
      const dropped = this.rows.get(oldest);
      this.rows.delete(oldest);
      if (dropped) this.byUser.get(dropped.user_id)?.delete(oldest);
    }
    this.rows.set(row.prefix, row);
    let prefixes = this.byUser.get(row.user_id);
    if (!prefixes) this.byUser.set(row.user_id, (prefixes = new Set()));
    prefixes.add(row.prefix);
  }

  private dropUser(userId: number): void {
    const prefixes = this.byUser.get(userId);
    if (!prefixes) return;
    for (const p of prefixes) this.rows.delete(p);
    this.byUser.delete(userId);
  }

  private clear(): void {
    this.rows.clear();
    this.byUser.clear();
  }
}

export class KeyVerifier {
  /** PostgreSQL with a key feed: verified keys kept in memory. */
  private kept: KeptKeys | null = null;
  /** When this instance last wrote `last_used_at` for each key: at most one write a minute. */
  private readonly lastTouched = new Map<number, number>();
  /** Addresses already known for a key on this instance; a new one is recorded once (`key.new_ip`). */
  private readonly knownAddresses = new Set<string>();

  constructor(private readonly ctx: Pick<AppContext, 'config' | 'db'>) {}

  /** The principal of a live key; 401 for any bad key, 403 while keys are not enabled for its user. */
  async verify(key: string, ip: string): Promise<Principal> {
    const prefix = parseKey(key);
    if (prefix === null) throw badKey();
    const row = await this.readKey(prefix);
    const now = Date.now();
    const nowIso = isoOf(now);
    if (!row || !constantTimeEqual(row.digest, digestKey(key)) || row.expires_at <= nowIso || row.is_active !== 1) throw badKey();
    const user = { id: row.user_id, username: row.username, isSuperuser: row.is_superuser === 1 };
    if (!apiKeysEnabledFor(this.ctx.config.apiKeysFor, user)) {
      throw new AppError('api_keys_not_enabled', 'API keys are in beta and enabled only for superusers.');
    }
    this.noteUse(row.id, row.last_used_at, now);
    const address = this.noteAddress(row.id, row.prefix, row.project_id, user, ip);
    if (address) await address;
    return {
      user,
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

  private readKey(prefix: string): Promise<KeyAuthRow | undefined> {
    const feed = this.ctx.db.keyFeed;
    if (!feed) return findKeyForAuth(this.ctx.db.kysely, prefix);
    // The feed starts after the routes are built: the keeper is made on first use.
    if (this.kept?.feed !== feed) this.kept = new KeptKeys(feed);
    return this.kept.read(this.ctx.db, prefix);
  }

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
}
