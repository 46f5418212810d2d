// SQL for single sign-on identities (issuer + sub → user).
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../db/types.js';

type Q = Kysely<Database> | Transaction<Database>;

export function findIdentity(q: Q, issuer: string, subject: string): Promise<{ user_id: number } | undefined> {
  return q.selectFrom('oidc_identities').select('user_id').where('issuer', '=', issuer).where('subject', '=', subject).executeTakeFirst();
}

export async function insertIdentity(q: Q, i: { issuer: string; subject: string; userId: number; at: string }): Promise<void> {
  await q.insertInto('oidc_identities').values({ issuer: i.issuer, subject: i.subject, user_id: i.userId, created_at: i.at, last_login_at: i.at }).execute();
}

export async function touchIdentity(q: Q, issuer: string, subject: string, at: string): Promise<void> {
  await q.updateTable('oidc_identities').set({ last_login_at: at }).where('issuer', '=', issuer).where('subject', '=', subject).execute();
}
