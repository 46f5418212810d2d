// Single sign-on routes. The browser goes to /auth/oidc/login, is sent to the provider, comes
// back to /auth/oidc/callback and lands in the web app, logged in, or on its login page with
// `?error=<reason>`: these two routes answer with redirects, never with an error page.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { principalOf } from '../../auth/route-auth.js';
import type { App, AppContext } from '../../context.js';
import { AppError, errorResponses } from '../../errors.js';
import { setSessionCookie } from '../sessions/sessions.routes.js';
import { EndSessionResponse, OidcInfo, OidcLoginQuery } from './oidc.schemas.js';
import {
  OidcLoginError, PENDING_LOGIN_SECONDS, auditFailedLogin, decodePending, encodePending, endSessionUrl, finishLogin, returnLocation, startLogin,
} from './oidc.service.js';

/** The login in progress (state, nonce, PKCE verifier), from the redirect to the provider until its answer. */
const PENDING_COOKIE = 'simplevm_oidc';
const AFTER_LOGIN = '/vms';

const redirectDoc = (to: string) => ({ type: 'null', description: `Redirect: ${to}` });

export function oidcRoutes(app: App, ctx: AppContext): void {
  app.addSchema(OidcInfo);
  app.addSchema(EndSessionResponse);
  const oidc = ctx.config.oidc;
  // The cookie goes back only to the callback, over HTTPS when the callback is HTTPS.
  const callback = oidc ? new URL(oidc.redirectUrl) : null;
  const pendingCookie = { path: callback?.pathname ?? '/', httpOnly: true, sameSite: 'lax' as const, secure: callback?.protocol === 'https:' };

  const toLoginPage = (reply: FastifyReply, reason: string, next: string | null) => {
    const q = new URLSearchParams({ error: reason });
    if (next) q.set('next', next);
    return reply.header('cache-control', 'no-store').redirect(`/login?${q}`);
  };

  app.get('/auth/oidc', {
    config: { auth: 'none' },
    schema: {
      operationId: 'oidcInfo', tags: ['auth'], summary: 'Whether single sign-on is on, its button label, and whether passwords are accepted. Public.',
      response: { 200: OidcInfo, ...errorResponses },
    },
  }, async () => ({
    enabled: oidc !== null,
    name: oidc?.name ?? null,
    login_url: oidc ? '/api/auth/oidc/login' : null,
    local_login: ctx.config.localLogin,
  }));

  app.get('/auth/oidc/login', {
    config: { auth: 'none' },
    schema: {
      operationId: 'oidcLogin', tags: ['auth'],
      summary: 'Start a single sign-on login: redirects the browser to the provider (authorization code flow with PKCE, state and nonce).',
      description: 'If the provider cannot be reached, redirects to `/login?error=provider_unavailable` instead. 404 when single sign-on is not configured.',
      querystring: OidcLoginQuery,
      response: { 302: redirectDoc('the provider\'s authorization endpoint'), ...errorResponses },
    },
  }, async (request, reply) => {
    const next = request.query.next;
    try {
      const { url, pending } = await startLogin(ctx, next);
      reply.setCookie(PENDING_COOKIE, encodePending(pending), { ...pendingCookie, maxAge: PENDING_LOGIN_SECONDS });
      return reply.header('cache-control', 'no-store').redirect(url);
    } catch (err) {
      if (!(err instanceof OidcLoginError)) throw err;
      request.log.warn({ reason: err.reason, detail: err.message }, 'single sign-on login could not start');
      return toLoginPage(reply, err.reason, returnLocation(next));
    }
  });

  app.get('/auth/oidc/callback', {
    config: { auth: 'none' },
    schema: {
      operationId: 'oidcCallback', tags: ['auth'],
      summary: 'The provider\'s answer (the registered redirect URL): makes the session and redirects into the web app.',
      description:
        'On success sets the session cookie and redirects to the page the login started from (or /vms). Any failure — cancelled at the provider, ' +
        'state or nonce not matching, provider unreachable, account deactivated — redirects to `/login?error=<reason>` with reason ' +
        '`access_denied`, `invalid_state`, `login_failed`, `provider_unavailable`, `account_inactive` or `unavailable`. ' +
        'Query: the provider\'s authorization response (`code`, `state`, `iss`, or `error`), read as sent.',
      response: { 302: redirectDoc('the web app, or its login page with ?error='), ...errorResponses },
    },
  }, async (request, reply) => {
    if (!oidc) throw new AppError('not_found', 'Single sign-on is not configured on this portal.');
    const pending = decodePending(request.cookies[PENDING_COOKIE]);
    // One answer per login: the pending login is spent whether this one succeeds or not.
    reply.clearCookie(PENDING_COOKIE, pendingCookie);
    try {
      const session = await finishLogin(ctx, pending, rawQuery(request), request.ip);
      setSessionCookie(request, reply, session);
      return reply.header('cache-control', 'no-store').redirect(pending?.next ?? AFTER_LOGIN);
    } catch (err) {
      const failure = err instanceof OidcLoginError ? err : null;
      const reason = failure?.reason ?? (err instanceof AppError && err.code === 'unavailable' ? 'unavailable' : 'login_failed');
      if (failure) request.log.warn({ reason, detail: failure.message }, 'single sign-on login refused');
      else request.log.error({ err }, 'single sign-on login failed');
      if (failure) await auditFailedLogin(ctx, failure, request.ip).catch((e: unknown) => request.log.error({ err: e }, 'audit of a failed login failed'));
      return toLoginPage(reply, reason, pending?.next ?? null);
    }
  });

  app.get('/auth/oidc/end-session', {
    config: { auth: 'session' },
    schema: {
      operationId: 'oidcEndSession', tags: ['auth'],
      summary: 'The provider\'s end-session URL for this session; call it before POST /api/auth/logout. Web session only.',
      response: { 200: EndSessionResponse, ...errorResponses },
    },
  }, async (request) => ({ url: await endSessionUrl(ctx, principalOf(request)) }));
}

/** The query string as the provider sent it (not as schema coercion shaped it). */
function rawQuery(request: FastifyRequest): URLSearchParams {
  const at = request.url.indexOf('?');
  return new URLSearchParams(at === -1 ? '' : request.url.slice(at + 1));
}
