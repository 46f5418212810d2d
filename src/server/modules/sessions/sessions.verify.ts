// Verifying a web session: the cookie's token, hashed, names a live session row.
import type { Principal } from '../../auth/principal.js';
import { sha256Hex } from '../../auth/tokens.js';
import type { AppContext } from '../../context.js';
import { findLiveSession } from './sessions.repository.js';

export const SESSION_COOKIE = 'simplevm_session';

/** The principal of a live session, or null for an unknown or expired one (the request is then anonymous). */
export async function verifySession(ctx: Pick<AppContext, 'db'>, token: string, ip: string): Promise<Principal | null> {
  const id = sha256Hex(token);
  const row = await findLiveSession(ctx.db.kysely, id, new Date().toISOString());
  if (!row) return null;
  return {
    user: { id: row.user_id, username: row.username, isSuperuser: row.is_superuser === 1 },
    via: 'session',
    key: null,
    sessionId: id,
    csrfToken: row.csrf_token,
    ip,
  };
}
