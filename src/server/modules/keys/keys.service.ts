// API keys (spec §2): made and deleted through a web session only; the key is returned once.
import { digestKey, generateKey, parseKey } from '../../auth/key-format.js';
import { constantTimeEqual } from '../../auth/tokens.js';
import { auditAs, writeAudit } from '../audit/audit.service.js';
import type { Principal, Scope } from '../../auth/principal.js';
import { reachOf, apiKeysEnabledFor } from '../../auth/policy.js';
import type { AppContext } from '../../context.js';
import { AppError, invalid, notFound } from '../../errors.js';
import { isProjectReachable } from '../projects/projects.repository.js';
import { keyChangesSettled } from '../../db/transaction.js';
import { type KeyRow, deleteKey, findKey, findKeyForAuth, insertKey, listKeys, shortenKey } from './keys.repository.js';

const DAY_MS = 86_400_000;
const DEFAULT_DAYS = 90;

export interface KeyView {
  id: number;
  name: string;
  prefix: string;
  scopes: Scope[];
  own_objects_only: boolean;
  project_id: number | null;
  created_at: string;
  expires_at: string;
  last_used_at: string | null;
}

export function keyView(row: KeyRow): KeyView {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: JSON.parse(row.scopes) as Scope[],
    own_objects_only: row.own_objects_only === 1,
    project_id: row.project_id,
    created_at: row.created_at,
    expires_at: row.expires_at,
    last_used_at: row.last_used_at,
  };
}

export function assertKeysEnabled(ctx: AppContext, p: Principal): void {
  if (!apiKeysEnabledFor(ctx.config.apiKeysFor, p.user)) {
    throw new AppError('api_keys_not_enabled', 'API keys are in beta and enabled only for superusers.');
  }
}

export async function listKeysFor(ctx: AppContext, p: Principal): Promise<KeyView[]> {
  return (await listKeys(ctx.db.kysely, p.user.id, new Date().toISOString())).map(keyView);
}

/** The caller's live keys bound to a project (spec §8); a project out of reach is not found. */
export async function listProjectKeysFor(ctx: AppContext, p: Principal, projectId: number): Promise<KeyView[]> {
  if (!(await isProjectReachable(ctx.db.kysely, reachOf(p), projectId))) throw notFound('No such project.');
  return (await listKeys(ctx.db.kysely, p.user.id, new Date().toISOString(), projectId)).map(keyView);
}

/**
 * The portal's key policies (SIMPLEVM_API_KEY_PROJECT, SIMPLEVM_API_KEY_EXPIRY; spec §8): a field
 * that must be given. Only for new keys: a rotated key keeps the settings of the key it replaces.
 */
function assertKeyPolicies(ctx: AppContext, body: KeyCreate): void {
  if (ctx.config.apiKeyProject === 'required' && (body.project_id === undefined || body.project_id === null)) {
    throw invalid('project_id', 'This portal binds every API key to a project: give project_id (GET /api/projects/ lists yours).');
  }
  if (ctx.config.apiKeyExpiry === 'required' && body.expires_at === undefined) {
    throw invalid('expires_at', `This portal wants every API key's expiry: give expires_at (ISO 8601, at most ${ctx.config.apiKeyMaxDays} days ahead).`);
  }
}

export interface KeyCreate {
  name: string;
  scopes: Scope[];
  own_objects_only?: boolean;
  project_id?: number | null;
  expires_at?: string;
}

/** The expiry a new key gets: the requested one, checked, or the default. */
export function keyExpiry(ctx: AppContext, requested: string | undefined, now: Date): string {
  const maxMs = ctx.config.apiKeyMaxDays * DAY_MS;
  if (requested === undefined) return new Date(now.getTime() + Math.min(DEFAULT_DAYS * DAY_MS, maxMs)).toISOString();
  const at = Date.parse(requested);
  if (Number.isNaN(at)) throw invalid('expires_at', 'Give the expiry as an ISO 8601 date and time.');
  if (at <= now.getTime()) throw invalid('expires_at', 'The expiry must lie in the future.');
  // A minute of slack, so that "in N days" computed by a client a moment ago is still accepted.
  if (at > now.getTime() + maxMs + 60_000) throw invalid('expires_at', `A key may live at most ${ctx.config.apiKeyMaxDays} days.`);
  return new Date(at).toISOString();
}

export async function createKey(ctx: AppContext, p: Principal, body: KeyCreate): Promise<KeyView & { key: string }> {
  assertKeysEnabled(ctx, p);
  assertKeyPolicies(ctx, body);
  const projectId = body.project_id ?? null;
  if (projectId !== null && !(await isProjectReachable(ctx.db.kysely, reachOf(p), projectId))) throw notFound('No such project.');
  const now = new Date();
  const expiresAt = keyExpiry(ctx, body.expires_at, now);
  const scopes = [...new Set(body.scopes)];
  const generated = generateKey();
  const row = await ctx.db.kysely.transaction().execute(async (trx) => {
    const created = await insertKey(trx, {
      userId: p.user.id, name: body.name, prefix: generated.prefix, digest: generated.digest, scopes,
      ownObjectsOnly: body.own_objects_only ?? true, projectId, createdAt: now.toISOString(), expiresAt,
    });
    await auditAs(trx, p, {
      action: 'key.create', objectType: 'api_key', objectId: String(created.id), subjectId: p.user.id, keyPrefix: created.prefix, projectId, detail: { name: body.name },
    });
    return created;
  });
  return { ...keyView(row), key: generated.key };
}

export async function deleteKeyOf(ctx: AppContext, p: Principal, id: number): Promise<void> {
  // The row is marked deleted before the response is sent, and every instance that keeps keys in
  // memory has dropped it (keyChangesSettled): no later request can succeed with it anywhere.
  await ctx.db.kysely.transaction().execute(async (trx) => {
    const key = await findKey(trx, p.user.id, id);
    if (!key || !(await deleteKey(trx, p.user.id, id, new Date().toISOString()))) throw notFound('No such API key.');
    await auditAs(trx, p, { action: 'key.delete', objectType: 'api_key', objectId: String(id), subjectId: p.user.id, keyPrefix: key.prefix, projectId: key.project_id });
  });
  await keyChangesSettled(ctx.db);
}

/**
 * A new key with the same settings and lifetime; the old one dies now, or after `overlapHours`
 * (never later than it would have anyway).
 */
export async function rotateKey(ctx: AppContext, p: Principal, id: number, overlapHours: number): Promise<KeyView & { key: string }> {
  assertKeysEnabled(ctx, p);
  const generated = generateKey();
  const now = new Date();
  const row = await ctx.db.kysely.transaction().execute(async (trx) => {
    // Locked: of concurrent rotations of one key, the first deletes it (or shortens its life) before
    // the next one reads it, and with overlap_hours=0 that one then finds no key (404).
    const old = await findKey(trx, p.user.id, id, ctx.db.dialect);
    if (!old || old.expires_at <= now.toISOString()) throw notFound('No such API key.');
    const lifetime = Math.min(Date.parse(old.expires_at) - Date.parse(old.created_at), ctx.config.apiKeyMaxDays * DAY_MS);
    const created = await insertKey(trx, {
      userId: p.user.id, name: old.name, prefix: generated.prefix, digest: generated.digest, scopes: JSON.parse(old.scopes) as Scope[],
      ownObjectsOnly: old.own_objects_only === 1, projectId: old.project_id, createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + Math.max(lifetime, 60_000)).toISOString(),
    });
    if (overlapHours === 0) {
      // With the row locked this delete cannot miss; if it ever did, the key went away under us
      // and the successor inserted above must not outlive it: 404 rolls the insert back.
      if (!(await deleteKey(trx, p.user.id, id, now.toISOString()))) throw notFound('No such API key.');
    } else {
      const until = new Date(Math.min(now.getTime() + overlapHours * 3600_000, Date.parse(old.expires_at))).toISOString();
      await shortenKey(trx, id, until);
    }
    await auditAs(trx, p, { action: 'key.rotate', objectType: 'api_key', objectId: String(created.id), subjectId: p.user.id, keyPrefix: old.prefix, projectId: old.project_id });
    return created;
  });
  await keyChangesSettled(ctx.db);
  return { ...keyView(row), key: generated.key };
}

/**
 * A leaked key reported by anyone: revoked when it is live, and recorded in its owner's audit log.
 * Returns whether a live key was revoked (the caller answers 202 either way).
 */
export async function revokeLeakedKey(ctx: AppContext, key: unknown, ip: string): Promise<boolean> {
  if (typeof key !== 'string') return false;
  const prefix = parseKey(key.trim());
  if (prefix === null) return false;
  const revoked = await ctx.db.kysely.transaction().execute(async (trx) => {
    const row = await findKeyForAuth(trx, prefix);
    if (!row || !constantTimeEqual(row.digest, digestKey(key.trim()))) return false;
    const now = new Date().toISOString();
    if (row.expires_at <= now) return false;
    await deleteKey(trx, row.user_id, row.id, now);
    await writeAudit(trx, null, row.prefix, ip, { action: 'key.revoke_leaked', objectType: 'api_key', objectId: String(row.id), subjectId: row.user_id, projectId: row.project_id });
    return true;
  });
  if (revoked) await keyChangesSettled(ctx.db);
  return revoked;
}
