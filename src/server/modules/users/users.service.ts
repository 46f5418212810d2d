// Local accounts: creating one, its superuser and active flags (a new password is the sessions
// module's: it ends sessions). The command line (`simplevm user …`), the first start (bootstrap.ts)
// and the API all go through these, so an account is made and changed one way whoever asks. Each
// takes the database or the caller's transaction.
import { hashPassword } from '../../auth/passwords.js';
import type { Queryable } from '../../db/transaction.js';
import { AppError, invalid, isUniqueViolation, notFound } from '../../errors.js';
import { type PublicUser, insertUser, updateUserFlags } from './users.repository.js';

/** Local usernames: what fits a login form, a URL and a log line unquoted (150, like the column). */
const USERNAME = /^[A-Za-z0-9_.@+-]{1,150}$/;

/** A new local account, active. `username` taken answers `conflict`. */
export async function createUser(q: Queryable, u: { username: string; password: string; isSuperuser?: boolean }): Promise<PublicUser> {
  if (!USERNAME.test(u.username)) throw invalid('username', 'A username has 1–150 letters, digits and _ . @ + -.');
  if (u.password.length === 0) throw invalid('password', 'The password is empty.');
  const passwordHash = await hashPassword(u.password);
  try {
    return await insertUser(q, { username: u.username, passwordHash, isSuperuser: u.isSuperuser === true, createdAt: new Date().toISOString() });
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('conflict', `user "${u.username}" exists already`);
    throw err;
  }
}

/**
 * Sets the superuser and active flags (those given). Authentication reads both on every request,
 * so the change holds from the user's next request on; a deactivated user's sessions and keys stop
 * working and work again on reactivation.
 */
export async function setUserFlags(q: Queryable, username: string, flags: { isSuperuser?: boolean; isActive?: boolean }): Promise<PublicUser> {
  const set: { is_superuser?: 0 | 1; is_active?: 0 | 1 } = {};
  if (flags.isSuperuser !== undefined) set.is_superuser = flags.isSuperuser ? 1 : 0;
  if (flags.isActive !== undefined) set.is_active = flags.isActive ? 1 : 0;
  const user = await updateUserFlags(q, username, set);
  if (!user) throw notFound(`no user "${username}"`);
  return user;
}
