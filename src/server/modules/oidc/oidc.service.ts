// Single sign-on with OpenID Connect: the authorization code flow with PKCE, state and nonce
// (openid-client), users provisioned from the provider's claims, and the provider's end-session
// URL at logout. A failed login is an OidcLoginError whose reason the login page explains.
import * as oidcClient from 'openid-client';
import { type Claims, emailOf, hasClaimValue, safeReturnPath, usernameBase, usernameCandidates } from '../../auth/oidc-claims.js';
import { hashPassword } from '../../auth/passwords.js';
import type { Principal } from '../../auth/principal.js';
import { constantTimeEqual, randomToken } from '../../auth/tokens.js';
import type { OidcConfig } from '../../config.js';
import type { AppContext } from '../../context.js';
import { AppError, isUniqueViolation } from '../../errors.js';
import { keyChangesSettled } from '../../db/transaction.js';
import { writeAudit } from '../audit/audit.service.js';
import { type LoginResult, startSession } from '../sessions/sessions.service.js';
import { findSessionIdToken } from '../sessions/sessions.repository.js';
import { type PublicUser, findUserById, findUserByName, insertUser, updateUserFromProvider } from '../users/users.repository.js';
import { findIdentity, insertIdentity, touchIdentity } from './oidc.repository.js';

/** Why a login failed; the login page shows a sentence for each (`/login?error=<reason>`). */
export type OidcFailure = 'access_denied' | 'invalid_state' | 'provider_unavailable' | 'login_failed' | 'account_inactive' | 'unavailable';

export class OidcLoginError extends Error {
  constructor(
    readonly reason: OidcFailure,
    message: string,
    /** The portal user the attempt was for, once known (for the audit log). */
    readonly user: { id: number; username: string } | null = null,
  ) {
    super(message);
  }
}

/** Any origin will do: only the path, query and fragment of a return path are kept. */
const SAME_SITE = 'http://portal.invalid';

/**
 * The page a login returns to, as a Location header can carry it: a path safeReturnPath accepts,
 * percent-encoded as a browser would send it (UTF-8; an existing `%XX` stays as it is). Node
 * refuses a header with a character beyond Latin-1 (`/vms/€` ended the login in a 500), and a
 * browser would misread Latin-1 bytes anyway. The rules apply again to the encoded path, since
 * normalizing makes another path of some (`/vms/../login`, `/.//evil.example`); their length
 * limit then also keeps the pending-login cookie within what decodePending takes.
 */
export function returnLocation(next: string | null | undefined): string | null {
  const path = safeReturnPath(next);
  if (path === null) return null;
  const url = new URL(path, SAME_SITE);
  return url.origin === SAME_SITE ? safeReturnPath(`${url.pathname}${url.search}${url.hash}`) : null;
}

/** How long a login may take at the provider before its state is no longer accepted. */
export const PENDING_LOGIN_SECONDS = 600;
/** How long one request to the provider may take. */
const PROVIDER_TIMEOUT_SECONDS = 10;
/** How long discovered provider metadata is reused before it is fetched again. */
const DISCOVERY_TTL_MS = 3600_000;

/** What the browser carries (in an HttpOnly cookie) from the redirect to the provider to the callback. */
export interface PendingLogin {
  state: string;
  nonce: string;
  verifier: string;
  next: string | null;
  /** Unix seconds after which the callback refuses it. */
  exp: number;
}

export function encodePending(p: PendingLogin): string {
  return Buffer.from(JSON.stringify(p)).toString('base64url');
}

export function decodePending(raw: string | undefined): PendingLogin | null {
  if (!raw || raw.length > 4096) return null;
  try {
    const p = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<PendingLogin>;
    if (typeof p.state !== 'string' || typeof p.nonce !== 'string' || typeof p.verifier !== 'string' || typeof p.exp !== 'number') return null;
    return { state: p.state, nonce: p.nonce, verifier: p.verifier, exp: p.exp, next: returnLocation(typeof p.next === 'string' ? p.next : null) };
  } catch {
    return null;
  }
}

// The provider's metadata, discovered once (per configuration) and reused; a failed discovery is
// not kept, so the next login tries again.
const discovered = new WeakMap<OidcConfig, { at: number; config: Promise<oidcClient.Configuration> }>();

function providerConfig(oidc: OidcConfig): Promise<oidcClient.Configuration> {
  const cached = discovered.get(oidc);
  if (cached && Date.now() - cached.at < DISCOVERY_TTL_MS) return cached.config;
  const entry = { at: Date.now(), config: discover(oidc) };
  discovered.set(oidc, entry);
  entry.config.catch(() => {
    if (discovered.get(oidc) === entry) discovered.delete(oidc);
  });
  return entry.config;
}

async function discover(oidc: OidcConfig): Promise<oidcClient.Configuration> {
  const insecure = new URL(oidc.issuer).protocol === 'http:'; // config allows it for localhost only
  const options = { timeout: PROVIDER_TIMEOUT_SECONDS, ...(insecure ? { execute: [oidcClient.allowInsecureRequests] } : {}) };
  const found = await oidcClient.discovery(new URL(oidc.issuer), oidc.clientId, undefined, oidcClient.None(), options);
  const server = found.serverMetadata();
  // client_secret_basic is the OpenID default and what providers register by default; the secret
  // goes in the body only for a provider that does not take it in the header.
  const methods = server.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
  const auth =
    oidc.clientSecret === null
      ? oidcClient.None()
      : methods.includes('client_secret_basic') || !methods.includes('client_secret_post')
        ? oidcClient.ClientSecretBasic(oidc.clientSecret)
        : oidcClient.ClientSecretPost(oidc.clientSecret);
  const config = new oidcClient.Configuration(server, oidc.clientId, oidc.clientSecret ?? undefined, auth);
  if (insecure) oidcClient.allowInsecureRequests(config);
  config.timeout = PROVIDER_TIMEOUT_SECONDS;
  return config;
}

function configured(ctx: AppContext): OidcConfig {
  if (!ctx.config.oidc) throw new AppError('not_found', 'Single sign-on is not configured on this portal.');
  return ctx.config.oidc;
}

/** A provider that cannot be reached, times out or answers with a server error. */
function isProviderDown(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const name = (e as { name?: string }).name;
    const code = (e as { code?: string }).code;
    if (name === 'TimeoutError' || name === 'AbortError') return true;
    if (e instanceof TypeError && /fetch failed/i.test(e.message)) return true;
    if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|UND_ERR_)/.test(code)) return true;
    if (e instanceof Response && e.status >= 500) return true;
    if (typeof (e as { status?: unknown }).status === 'number' && (e as { status: number }).status >= 500) return true;
  }
  return false;
}

function providerFailure(err: unknown, what: string): OidcLoginError {
  if (err instanceof OidcLoginError) return err;
  if (isProviderDown(err)) return new OidcLoginError('provider_unavailable', `The provider cannot be reached (${what}).`);
  if (err instanceof oidcClient.AuthorizationResponseError && err.error === 'access_denied') {
    return new OidcLoginError('access_denied', 'The login was cancelled or refused at the provider.');
  }
  return new OidcLoginError('login_failed', `The provider's answer was refused (${what}): ${err instanceof Error ? err.message : String(err)}`);
}

/** The provider's authorization URL for a new login, and what the browser must bring back. */
export async function startLogin(ctx: AppContext, next: string | undefined): Promise<{ url: string; pending: PendingLogin }> {
  const oidc = configured(ctx);
  let config: oidcClient.Configuration;
  try {
    config = await providerConfig(oidc);
  } catch (err) {
    throw providerFailure(err, 'discovery');
  }
  const pending: PendingLogin = {
    state: oidcClient.randomState(),
    nonce: oidcClient.randomNonce(),
    verifier: oidcClient.randomPKCECodeVerifier(),
    next: returnLocation(next),
    exp: Math.floor(Date.now() / 1000) + PENDING_LOGIN_SECONDS,
  };
  const url = oidcClient.buildAuthorizationUrl(config, {
    redirect_uri: oidc.redirectUrl,
    scope: oidc.scopes,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await oidcClient.calculatePKCECodeChallenge(pending.verifier),
    code_challenge_method: 'S256',
  });
  return { url: url.href, pending };
}

/**
 * The provider's answer at the callback: checks state (against the browser's pending login),
 * then exchanges the code with the PKCE verifier and checks the ID token's nonce, reads the
 * claims (ID token and userinfo), and makes the portal session.
 */
export async function finishLogin(ctx: AppContext, pending: PendingLogin | null, query: URLSearchParams, ip: string): Promise<LoginResult> {
  const oidc = configured(ctx);
  const error = query.get('error');
  if (error !== null) {
    throw error === 'access_denied'
      ? new OidcLoginError('access_denied', 'The login was cancelled or refused at the provider.')
      : new OidcLoginError('login_failed', `The provider answered with an error: ${error.slice(0, 100)}`);
  }
  if (!pending || pending.exp < Date.now() / 1000) {
    throw new OidcLoginError('invalid_state', 'No login is in progress in this browser, or it took too long.');
  }
  const state = query.get('state');
  if (state === null || query.getAll('state').length !== 1 || !constantTimeEqual(state, pending.state)) {
    throw new OidcLoginError('invalid_state', 'The state in the provider\'s answer does not match the login this browser started.');
  }

  let config: oidcClient.Configuration;
  let tokens: Awaited<ReturnType<typeof oidcClient.authorizationCodeGrant>>;
  let claims: Claims;
  try {
    config = await providerConfig(oidc);
    // The answer is judged as arriving at the registered redirect URL, whatever the proxy in front of us did to the host.
    const currentUrl = new URL(oidc.redirectUrl);
    currentUrl.search = query.toString();
    tokens = await oidcClient.authorizationCodeGrant(config, currentUrl, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
    });
    const idClaims = tokens.claims();
    if (!idClaims) throw new OidcLoginError('login_failed', 'The provider sent no ID token.');
    claims = { ...idClaims };
    // Many providers put profile claims (username, e-mail, groups) only in the userinfo answer.
    if (config.serverMetadata().userinfo_endpoint && tokens.access_token) {
      const info = await oidcClient.fetchUserInfo(config, tokens.access_token, idClaims.sub);
      // fetchUserInfo has checked that it is the same subject.
      claims = { ...idClaims, ...info };
    }
  } catch (err) {
    throw providerFailure(err, 'code exchange');
  }

  const issuer = config.serverMetadata().issuer;
  const user = await provisionUser(ctx, oidc, issuer, claims);
  if (user.is_active !== 1) {
    throw new OidcLoginError('account_inactive', 'The account is deactivated.', { id: user.id, username: user.username });
  }
  return startSession(ctx, user, ip, { idToken: tokens.id_token ?? null });
}

/**
 * The portal user of a provider identity (issuer + sub): found, with its e-mail and superuser
 * flag refreshed from the claims, or created on first login under a free username.
 */
/** A first login needs a password hash, made outside the transaction; then it tries again. */
class PasswordNeeded extends Error {}

async function provisionUser(ctx: AppContext, oidc: OidcConfig, issuer: string, claims: Claims): Promise<PublicUser> {
  const subject = typeof claims.sub === 'string' ? claims.sub : '';
  if (subject === '' || subject.length > 255) throw new OidcLoginError('login_failed', 'The provider sent no usable subject (sub).');
  const email = emailOf(claims);
  // Without a configured claim the provider does not manage superusers (the command line does).
  const superuser = oidc.superuserClaim ? hasClaimValue(claims, oidc.superuserClaim) : undefined;
  const db = ctx.db.kysely;
  // A password no one knows, for an account that logs in through the provider only: a slow hash,
  // so made only once a transaction has found the identity new, and outside any transaction.
  let passwordHash: string | null = null;
  for (let attempt = 0; ; attempt++) {
    const now = new Date().toISOString();
    try {
      const user = await db.transaction().execute(async (trx) => {
        const known = await findIdentity(trx, issuer, subject);
        if (known) {
          await updateUserFromProvider(trx, known.user_id, { email, isSuperuser: superuser });
          await touchIdentity(trx, issuer, subject, now);
          const user = await findUserById(trx, known.user_id);
          if (!user) throw new Error(`identity of a missing user ${known.user_id}`);
          return user;
        }
        const base = usernameBase(claims);
        let username: string | null = null;
        for (const candidate of usernameCandidates(base, 20)) {
          if (!(await findUserByName(trx, candidate))) {
            username = candidate;
            break;
          }
        }
        // '-' and 6 characters: within the 150 of a username, as usernameBase leaves room for 8.
        username ??= `${base}-${randomToken(4)}`;
        if (passwordHash === null) throw new PasswordNeeded();
        const user = await insertUser(trx, { username, passwordHash, isSuperuser: superuser ?? false, createdAt: now, email });
        await insertIdentity(trx, { issuer, subject, userId: user.id, at: now });
        return user;
      });
      // The provider may have made the user a superuser or taken it away: their keys answer so everywhere now.
      if (superuser !== undefined) await keyChangesSettled(ctx.db);
      return user;
    } catch (err) {
      // Two first logins at once (same identity, or the same free name): the next try sees the winner.
      if (err instanceof PasswordNeeded) {
        passwordHash = await hashPassword(randomToken());
        continue;
      }
      if (isUniqueViolation(err) && attempt < 3) continue;
      throw err;
    }
  }
}

/** The provider's end-session URL for this session, or null (password login, or no such endpoint). */
export async function endSessionUrl(ctx: AppContext, p: Principal): Promise<string | null> {
  const oidc = ctx.config.oidc;
  if (!oidc || !p.sessionId) return null;
  const idToken = await findSessionIdToken(ctx.db.kysely, p.sessionId);
  if (!idToken) return null;
  let config: oidcClient.Configuration;
  try {
    config = await providerConfig(oidc);
  } catch {
    return null;
  }
  if (!config.serverMetadata().end_session_endpoint) return null;
  return oidcClient.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: oidc.postLogoutUrl }).href;
}

/** A refused login in the audit log: with its user when known, anonymous otherwise. */
export async function auditFailedLogin(ctx: AppContext, err: OidcLoginError, ip: string): Promise<void> {
  await writeAudit(ctx.db.kysely, err.user, null, ip, {
    action: 'login_failed', objectType: 'user', objectId: err.user ? String(err.user.id) : null, subjectId: err.user?.id ?? null, outcome: 'failure',
    // The reason the login page is sent (`/login?error=…`).
    detail: { code: err.reason },
  });
}
