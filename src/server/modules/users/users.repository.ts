// SQL for users.
import type { Kysely, Transaction } from 'kysely';
import type { Database, User } from '../../db/types.js';

type Q = Kysely<Database> | Transaction<Database>;

const USER_COLUMNS = ['id', 'username', 'is_superuser', 'is_active', 'created_at', 'email'] as const;
export type PublicUser = Omit<User, 'password_hash'>;

export function findUserByName(q: Q, username: string): Promise<PublicUser | undefined> {
  return q.selectFrom('users').select(USER_COLUMNS).where('username', '=', username).executeTakeFirst();
}

/** The user with the password hash, for login only. */
export function findUserForLogin(q: Q, username: string): Promise<User | undefined> {
  return q.selectFrom('users').select([...USER_COLUMNS, 'password_hash']).where('username', '=', username).executeTakeFirst();
}

export function findUserById(q: Q, id: number): Promise<PublicUser | undefined> {
  return q.selectFrom('users').select(USER_COLUMNS).where('id', '=', id).executeTakeFirst();
}

export async function insertUser(q: Q, u: { username: string; passwordHash: string; isSuperuser: boolean; createdAt: string; email?: string | null }): Promise<PublicUser> {
  return q
    .insertInto('users')
    .values({ username: u.username, password_hash: u.passwordHash, is_superuser: u.isSuperuser ? 1 : 0, is_active: 1, created_at: u.createdAt, email: u.email ?? null })
    .returning(USER_COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function updateUserFlags(q: Q, username: string, flags: { is_superuser?: 0 | 1; is_active?: 0 | 1 }): Promise<PublicUser | undefined> {
  if (Object.keys(flags).length > 0) await q.updateTable('users').set(flags).where('username', '=', username).execute();
  return findUserByName(q, username);
}

/** What a single sign-on login refreshes: the e-mail, and the superuser flag when the provider manages it. */
export async function updateUserFromProvider(q: Q, id: number, u: { email: string | null; isSuperuser?: boolean }): Promise<void> {
  await q
    .updateTable('users')
    .set({ email: u.email, ...(u.isSuperuser === undefined ? {} : { is_superuser: u.isSuperuser ? 1 : 0 }) })
    .where('id', '=', id)
    .execute();
}

export async function countUsers(q: Q): Promise<number> {
  const r = await q.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function updateUserPassword(q: Q, id: number, passwordHash: string): Promise<void> {
  await q.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', id).execute();
}
