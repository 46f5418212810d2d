// API keys (spec §2): made and deleted through a web session only; the key is returned once.
import { generateKey } from '../../auth/key-format.js';
import type { Principal, Scope } from '../../auth/principal.js';
import { reachOf } from '../../auth/policy.js';
import type { AppContext } from '../../context.js';
import { AppError, invalid, notFound } from '../../errors.js';
import { isProjectReachable } from '../projects/projects.repository.js';
import { type KeyRow, deleteKey, insertKey, listKeys } from './keys.repository.js';

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
  if (ctx.config.apiKeysFor === 'superusers' && !p.user.isSuperuser) {
    throw new AppError('api_keys_not_enabled', 'API keys are in beta and enabled only for superusers.');
  }
}

export async function listKeysFor(ctx: AppContext, p: Principal): Promise<KeyView[]> {
  return (await listKeys(ctx.db.kysely, p.user.id, new Date().toISOString())).map(keyView);
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
  const projectId = body.project_id ?? null;
  if (projectId !== null && !(await isProjectReachable(ctx.db.kysely, reachOf(p), projectId))) throw notFound('No such project.');
  const now = new Date();
  const expiresAt = keyExpiry(ctx, body.expires_at, now);
  const scopes = [...new Set(body.scopes)];
  const generated = generateKey();
  const row = await insertKey(ctx.db.kysely, {
    userId: p.user.id, name: body.name, prefix: generated.prefix, digest: generated.digest, scopes,
    ownObjectsOnly: body.own_objects_only ?? true, projectId, createdAt: now.toISOString(), expiresAt,
  });
  return { ...keyView(row), key: generated.key };
}

export async function deleteKeyOf(ctx: AppContext, p: Principal, id: number): Promise<void> {
  // The row is marked deleted before the response is sent; every instance reads it on each request.
  if (!(await deleteKey(ctx.db.kysely, p.user.id, id, new Date().toISOString()))) throw notFound('No such API key.');
}
