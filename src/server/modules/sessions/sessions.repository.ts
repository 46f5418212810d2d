// SQL for web sessions. The session id is the SHA-256 of the cookie's token.
import type { Kysely, Transaction } from 'kysely';
import { prepared } from '../../db/prepared.js';
import type { Database } from '../../db/types.js';

type Q = Kysely<Database> | Transaction<Database>;

export async function insertSession(
  q: Q,
  s: { id: string; userId: number; csrfToken: string; createdAt: string; expiresAt: string; oidcIdToken?: string | null },
): Promise<void> {
  await q
    .insertInto('sessions')
    .values({ id: s.id, user_id: s.userId, csrf_token: s.csrfToken, created_at: s.createdAt, expires_at: s.expiresAt, oidc_id_token: s.oidcIdToken ?? null })
    .execute();
}

/** The single sign-on ID token a session was made from (null for a password login). */
export async function findSessionIdToken(q: Q, id: string): Promise<string | null> {
  const row = await q.selectFrom('sessions').select('oidc_id_token').where('id', '=', id).executeTakeFirst();
  return row?.oidc_id_token ?? null;
}

/** A live session of an active user, with what authentication needs of the user. */
export async function findLiveSession(q: Q, id: string, nowIso: string) {
  return (await liveSession(q, id, nowIso)).rows[0];
}

const liveSession = prepared((q: Q, id: string, nowIso: string) =>
  q
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select(['s.id', 's.csrf_token', 'u.id as user_id', 'u.username', 'u.is_superuser'])
    .where('s.id', '=', id)
    .where('s.expires_at', '>', nowIso)
    .where('u.is_active', '=', 1),
);

export async function deleteSession(q: Q, id: string): Promise<void> {
  await q.deleteFrom('sessions').where('id', '=', id).execute();
}

export async function deleteExpiredSessions(q: Q, nowIso: string): Promise<void> {
  await q.deleteFrom('sessions').where('expires_at', '<=', nowIso).execute();
}

/** Ends a user's web sessions, all of them or all but one (the session that asked). */
export async function deleteUserSessions(q: Q, userId: number, exceptId?: string): Promise<void> {
  let query = q.deleteFrom('sessions').where('user_id', '=', userId);
  if (exceptId !== undefined) query = query.where('id', '!=', exceptId);
  await query.execute();
}
