// Local login and web sessions, stored in the database so they survive restarts and work across
// instances. The cookie holds a random token; the table holds only its digest.
import { dummyPasswordHash, hashPassword, verifyPassword } from '../../auth/passwords.js';
import { randomToken, sha256Hex } from '../../auth/tokens.js';
import type { AppContext } from '../../context.js';
import { type Queryable, inTransaction } from '../../db/transaction.js';
import { AppError, invalid, notFound } from '../../errors.js';
import type { Principal } from '../../auth/principal.js';
import { auditAs, writeAudit } from '../audit/audit.service.js';
import { type PublicUser, findUserByName, findUserForLogin, updateUserPassword } from '../users/users.repository.js';
import { deleteExpiredSessions, deleteSession, deleteUserSessions, insertSession } from './sessions.repository.js';

export interface LoginResult {
  token: string;
  csrfToken: string;
  expiresAt: Date;
  user: { username: string; is_superuser: boolean };
}

export async function login(ctx: AppContext, username: string, password: string, ip: string): Promise<LoginResult> {
  if (!ctx.config.localLogin) {
    throw new AppError('permission_denied', `Password login is switched off on this portal; log in with ${ctx.config.oidc?.name ?? 'single sign-on'}.`);
  }
  const db = ctx.db.kysely;
  const user = await findUserForLogin(db, username);
  const ok = await verifyPassword(password, user?.password_hash ?? (await dummyPasswordHash()));
  if (!user || !ok || user.is_active !== 1) {
    // The account's owner sees attempts on it; attempts on unknown names have no actor.
    await writeAudit(db, user ? { id: user.id, username: user.username } : null, null, ip, {
      action: 'login_failed', objectType: 'user', objectId: user ? String(user.id) : null, subjectId: user?.id ?? null, outcome: 'failure',
      detail: { code: 'not_authenticated' },
    });
    throw new AppError('not_authenticated', 'The username or password is wrong.');
  }
  return startSession(ctx, user, ip);
}

/**
 * A new web session for a user who has proven who they are (by password or single sign-on), with
 * its `login` audit event. `idToken` is the single sign-on ID token, kept for the end-session hint.
 */
export async function startSession(
  ctx: AppContext,
  user: { id: number; username: string; is_superuser: 0 | 1 },
  ip: string,
  opts: { idToken?: string | null } = {},
): Promise<LoginResult> {
  const db = ctx.db.kysely;
  const token = randomToken();
  const csrfToken = randomToken();
  const now = new Date();
  const expiresAt = new Date(now.getTime() + ctx.config.sessionHours * 3600_000);
  await db.transaction().execute(async (trx) => {
    await insertSession(trx, {
      id: sha256Hex(token), userId: user.id, csrfToken, createdAt: now.toISOString(), expiresAt: expiresAt.toISOString(), oidcIdToken: opts.idToken ?? null,
    });
    await writeAudit(trx, { id: user.id, username: user.username }, null, ip, { action: 'login', objectType: 'user', objectId: String(user.id), subjectId: user.id });
  });
  // Housekeeping: sessions past their expiry are of no use to anyone.
  await deleteExpiredSessions(db, now.toISOString());
  return { token, csrfToken, expiresAt, user: { username: user.username, is_superuser: user.is_superuser === 1 } };
}

export async function logout(ctx: AppContext, p: Principal): Promise<void> {
  await ctx.db.kysely.transaction().execute(async (trx) => {
    if (p.sessionId) await deleteSession(trx, p.sessionId);
    await auditAs(trx, p, { action: 'logout', objectType: 'user', objectId: String(p.user.id), subjectId: p.user.id });
  });
}

/**
 * A new password, and the user's web sessions end with the old one: all of them, or all but
 * `keepSessionId` (the session of a user who changes their own). Writes `password.change` in the
 * same transaction: done `by` the user's own session (changeOwnPassword), or without `by` by an
 * administrator at the command line (`simplevm user set --password-stdin`), whom the portal does
 * not know: no actor, and `detail` `{"via": "cli"}`. Takes the database or the caller's transaction.
 */
export async function setUserPassword(
  q: Queryable, username: string, password: string, opts: { keepSessionId?: string; by?: Principal } = {},
): Promise<PublicUser> {
  if (password.length === 0) throw invalid('password', 'The password is empty.');
  // Hashed before any statement: scrypt takes a while, and no transaction of ours waits on it.
  const passwordHash = await hashPassword(password);
  return inTransaction(q, async (trx) => {
    const user = await findUserByName(trx, username);
    if (!user) throw notFound(`no user "${username}"`);
    await updateUserPassword(trx, user.id, passwordHash);
    await deleteUserSessions(trx, user.id, opts.keepSessionId);
    const event = { action: 'password.change' as const, objectType: 'user', objectId: String(user.id), subjectId: user.id };
    if (opts.by) await auditAs(trx, opts.by, event);
    else await writeAudit(trx, null, null, null, { ...event, detail: { via: 'cli' } });
    return user;
  });
}

/**
 * A user changes their own password from the profile (spec §6): the current one first, then every
 * other session of theirs ends and the one that asked stays. A wrong current password is 400
 * `invalid` on `current_password` (the form shows it by the field; 401 would read as a lost
 * session), recorded as a failed `password.change`; the route counts it as a failed
 * authentication of the address, as a wrong login is.
 */
export async function changeOwnPassword(ctx: AppContext, p: Principal, currentPassword: string, newPassword: string): Promise<void> {
  if (!ctx.config.localLogin) {
    throw new AppError('permission_denied', 'Password login is switched off on this portal: a password would never be used.');
  }
  const user = await findUserForLogin(ctx.db.kysely, p.user.username);
  if (!user || !(await verifyPassword(currentPassword, user.password_hash))) {
    await auditAs(ctx.db.kysely, p, {
      action: 'password.change', objectType: 'user', objectId: String(p.user.id), subjectId: p.user.id, outcome: 'failure', detail: { code: 'invalid' },
    });
    throw invalid('current_password', 'This is not your current password.');
  }
  await setUserPassword(ctx.db.kysely, p.user.username, newPassword, { keepSessionId: p.sessionId ?? undefined, by: p });
}
