// SQL for API keys. Columns are named: the digest leaves this file only for verification.
import type { Kysely, Transaction } from 'kysely';
import type { Dialect } from '../../db/index.js';
import { prepared } from '../../db/prepared.js';
import type { ApiKey, Database } from '../../db/types.js';

type Q = Kysely<Database> | Transaction<Database>;

export const KEY_COLUMNS = ['id', 'user_id', 'name', 'prefix', 'scopes', 'own_objects_only', 'project_id', 'created_at', 'expires_at', 'last_used_at'] as const;
export type KeyRow = Pick<ApiKey, (typeof KEY_COLUMNS)[number]>;

/** What verifying a key needs: the key's settings, its digest and its user's state. Runs on every keyed request. */
export async function findKeyForAuth(q: Q, prefix: string) {
  return (await keyForAuth(q, prefix)).rows[0];
}

const keyForAuth = prepared((q: Q, prefix: string) =>
  q
    .selectFrom('api_keys as k')
    .innerJoin('users as u', 'u.id', 'k.user_id')
    .select([
      'k.id', 'k.prefix', 'k.digest', 'k.scopes', 'k.own_objects_only', 'k.project_id', 'k.expires_at', 'k.last_used_at',
      'u.id as user_id', 'u.username', 'u.is_superuser', 'u.is_active',
    ])
    .where('k.prefix', '=', prefix)
    .where('k.deleted_at', 'is', null),
  { memo: true },
);

/** The user's live keys; with `projectId`, only those bound to that project. */
export function listKeys(q: Q, userId: number, nowIso: string, projectId?: number): Promise<KeyRow[]> {
  let query = q
    .selectFrom('api_keys')
    .select(KEY_COLUMNS)
    .where('user_id', '=', userId)
    .where('deleted_at', 'is', null)
    .where('expires_at', '>', nowIso);
  if (projectId !== undefined) query = query.where('project_id', '=', projectId);
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
}

/**
 * A key of the user's that is not deleted. `lockFor: 'postgres'` locks its row for the rest of the
 * transaction, so that changes to one key (concurrent rotations) run one after another: one that
 * waited reads the row as the one before it left it, and finds no key if that one deleted it.
 * SQLite needs no lock: its write transactions run one at a time (BEGIN IMMEDIATE, db/sqlite-dialect.ts).
 */
export function findKey(q: Q, userId: number, id: number, lockFor?: Dialect): Promise<KeyRow | undefined> {
  const query = q.selectFrom('api_keys').select(KEY_COLUMNS).where('id', '=', id).where('user_id', '=', userId).where('deleted_at', 'is', null);
  return (lockFor === 'postgres' ? query.forUpdate() : query).executeTakeFirst();
}

export async function insertKey(
  q: Q,
  k: { userId: number; name: string; prefix: string; digest: string; scopes: string[]; ownObjectsOnly: boolean; projectId: number | null; createdAt: string; expiresAt: string },
): Promise<KeyRow> {
  return q
    .insertInto('api_keys')
    .values({
      user_id: k.userId, name: k.name, prefix: k.prefix, digest: k.digest, scopes: JSON.stringify(k.scopes),
      own_objects_only: k.ownObjectsOnly ? 1 : 0, project_id: k.projectId, created_at: k.createdAt, expires_at: k.expiresAt,
      last_used_at: null, deleted_at: null,
    })
    .returning(KEY_COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function deleteKey(q: Q, userId: number, id: number, nowIso: string): Promise<boolean> {
  const r = await q.updateTable('api_keys').set({ deleted_at: nowIso }).where('id', '=', id).where('user_id', '=', userId).where('deleted_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function touchKey(q: Q, id: number, nowIso: string): Promise<void> {
  await q.updateTable('api_keys').set({ last_used_at: nowIso }).where('id', '=', id).execute();
}

/** Moves a key's expiry earlier (rotation with overlap). */
export async function shortenKey(q: Q, id: number, expiresAt: string): Promise<void> {
  await q.updateTable('api_keys').set({ expires_at: expiresAt }).where('id', '=', id).where('expires_at', '>', expiresAt).execute();
}
