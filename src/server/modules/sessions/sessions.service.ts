// Local login and web sessions, stored in the database so they survive restarts and work across
// instances. The cookie holds a random token; the table holds only its digest.
import { dummyPasswordHash, verifyPassword } from '../../auth/passwords.js';
import { randomToken, sha256Hex } from '../../auth/tokens.js';
import type { AppContext } from '../../context.js';
import { AppError } from '../../errors.js';
import { findUserForLogin } from '../users/users.repository.js';
import { deleteExpiredSessions, deleteSession, insertSession } from './sessions.repository.js';

export interface LoginResult {
  token: string;
  csrfToken: string;
  expiresAt: Date;
  user: { username: string; is_superuser: boolean };
}

export async function login(ctx: AppContext, username: string, password: string): Promise<LoginResult> {
  const db = ctx.db.kysely;
  const user = await findUserForLogin(db, username);
  const ok = await verifyPassword(password, user?.password_hash ?? (await dummyPasswordHash()));
  if (!user || !ok || user.is_active !== 1) {
    throw new AppError('not_authenticated', 'The username or password is wrong.');
  }
  const token = randomToken();
  const csrfToken = randomToken();
  const now = new Date();
  const expiresAt = new Date(now.getTime() + ctx.config.sessionHours * 3600_000);
  await insertSession(db, { id: sha256Hex(token), userId: user.id, csrfToken, createdAt: now.toISOString(), expiresAt: expiresAt.toISOString() });
  // Housekeeping: sessions past their expiry are of no use to anyone.
  await deleteExpiredSessions(db, now.toISOString());
  return { token, csrfToken, expiresAt, user: { username: user.username, is_superuser: user.is_superuser === 1 } };
}

export async function logout(ctx: AppContext, sessionId: string): Promise<void> {
  await deleteSession(ctx.db.kysely, sessionId);
}
