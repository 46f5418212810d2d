// SQL for users' public SSH keys (spec §9). Reach is the user: every query names its user_id.
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, SshKeysTable } from '../../db/types.js';

type Q = Kysely<Database> | Transaction<Database>;

const SSH_KEY_COLUMNS = ['id', 'name', 'type', 'fingerprint', 'created_at'] as const;
export type SshKeyRow = Pick<Selectable<SshKeysTable>, (typeof SSH_KEY_COLUMNS)[number]>;

/** The user's keys, oldest first. */
export function listSshKeys(q: Q, userId: number): Promise<SshKeyRow[]> {
  return q.selectFrom('ssh_keys').select(SSH_KEY_COLUMNS).where('user_id', '=', userId).orderBy('id').execute();
}

export async function countSshKeys(q: Q, userId: number): Promise<number> {
  const row = await q.selectFrom('ssh_keys').select((eb) => eb.fn.countAll<number | string>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The user's key with this fingerprint (a duplicate), or undefined. */
export function findSshKeyByFingerprint(q: Q, userId: number, fingerprint: string): Promise<SshKeyRow | undefined> {
  return q.selectFrom('ssh_keys').select(SSH_KEY_COLUMNS).where('user_id', '=', userId).where('fingerprint', '=', fingerprint).executeTakeFirst();
}

export function insertSshKey(
  q: Q,
  k: { userId: number; name: string; type: string; publicKey: string; fingerprint: string; createdAt: string },
): Promise<SshKeyRow> {
  return q
    .insertInto('ssh_keys')
    .values({ user_id: k.userId, name: k.name, type: k.type, public_key: k.publicKey, fingerprint: k.fingerprint, created_at: k.createdAt })
    .returning(SSH_KEY_COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Deletes the user's key; returns it, or undefined when the user has no such key. */
export function deleteSshKey(q: Q, userId: number, id: number): Promise<SshKeyRow | undefined> {
  return q.deleteFrom('ssh_keys').where('id', '=', id).where('user_id', '=', userId).returning(SSH_KEY_COLUMNS).executeTakeFirst();
}

/**
 * The public keys of these users, to put into a new VM (spec §9: the creator's, and with
 * member_access every member's), ordered by user, then as they were added.
 */
export async function publicKeysOfUsers(
  q: Q,
  userIds: number[],
): Promise<{ user_id: number; name: string; type: string; public_key: string; fingerprint: string }[]> {
  if (userIds.length === 0) return [];
  const rows = await q
    .selectFrom('ssh_keys')
    .select(['user_id', 'name', 'type', 'public_key', 'fingerprint'])
    .where('user_id', 'in', [...new Set(userIds)])
    .orderBy('user_id')
    .orderBy('id')
    .execute();
  // In the order the users were given (a VM's creator first), each user's keys oldest first.
  const rank = new Map(userIds.map((id, i) => [id, i] as const).reverse());
  return rows.sort((a, b) => (rank.get(a.user_id) ?? 0) - (rank.get(b.user_id) ?? 0));
}
