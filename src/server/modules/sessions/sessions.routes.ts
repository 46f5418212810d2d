import type { FastifyReply, FastifyRequest } from 'fastify';
import { SESSION_COOKIE } from './sessions.verify.js';
import { isCrossSite } from '../../auth/origin.js';
import { apiKeysEnabledFor } from '../../auth/policy.js';
import { principalOf } from '../../auth/route-auth.js';
import type { App, AppContext } from '../../context.js';
import { AppError, errorResponses } from '../../errors.js';
import { LoginBody, LoginResponse, MeResponse, PasswordChangeBody, UserOut } from './sessions.schemas.js';
import { type LoginResult, changeOwnPassword, login, logout } from './sessions.service.js';

/** The session cookie of a new login (password or single sign-on). */
export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, r: LoginResult): void {
  reply.setCookie(SESSION_COOKIE, r.token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: request.protocol === 'https',
    expires: r.expiresAt,
  });
}

export function sessionsRoutes(app: App, ctx: AppContext): void {
  app.addSchema(UserOut);

  app.post('/auth/login', {
    config: { auth: 'none', authFailure: true },
    schema: {
      operationId: 'login',
      tags: ['auth'],
      summary: 'Log in with a local account; sets the session cookie.',
      description: 'With SIMPLEVM_LOCAL_LOGIN=false (single sign-on only) every well-formed call answers 403 `permission_denied`. ' +
        'A browser request from another site (its `Origin` is not the portal\'s, or `Sec-Fetch-Site: cross-site`) answers 403 `csrf_failed`.',
      body: LoginBody,
      response: { 200: LoginResponse, ...errorResponses },
    },
  }, async (request, reply) => {
    // A login made by another site's page would log the browser into the attacker's account (login CSRF).
    if (isCrossSite(request.headers, request.host, ctx.config.publicUrl)) {
      throw new AppError('csrf_failed', 'Logins are accepted only from the portal\'s own pages (the Origin is another site).');
    }
    // Counted before the password is checked, so that concurrent guesses cannot all slip under the limit.
    const refund = await request.server.rateLimits.attempt(request.ip);
    const r = await login(ctx, request.body.username, request.body.password, request.ip).catch(async (err: unknown) => {
      // A wrong username or password counts against the address; a login that is switched off does not.
      if (!(err instanceof AppError && err.code === 'not_authenticated')) await refund();
      throw err;
    });
    await refund();
    setSessionCookie(request, reply, r);
    return { user: r.user, csrf_token: r.csrfToken };
  });

  app.post('/auth/logout', {
    config: { auth: 'session' },
    schema: {
      operationId: 'logout', tags: ['auth'], summary: 'End the web session.',
      description: 'A session made by single sign-on may also end at the provider: ask GET /api/auth/oidc/end-session for the URL before this call, and send the browser there after it.',
      response: { 204: { type: 'null' }, ...errorResponses },
    },
  }, async (request, reply) => {
    await logout(ctx, principalOf(request));
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.code(204).send();
  });

  // Session only (an API key must not be able to take over its user's account), throttled per
  // address like a login: a wrong current password counts as a failed authentication.
  app.post('/auth/password', {
    config: { auth: 'session', authFailure: true },
    schema: {
      operationId: 'changePassword', tags: ['auth'],
      summary: 'Change your password. Web session only.',
      description: '204 once the new password holds: every other session of the user has ended, the one that asked goes on. ' +
        'A wrong `current_password` is 400 `invalid` with `errors.current_password` (and counts against the address as a failed ' +
        'login does: 429 past SIMPLEVM_AUTH_FAIL_LIMIT a minute); a `new_password` under 12 characters is 400 `invalid` on ' +
        '`new_password`. With SIMPLEVM_LOCAL_LOGIN=false, 403 `permission_denied`. Audit action `password.change` (success or failure).',
      body: PasswordChangeBody,
      response: { 204: { type: 'null' }, ...errorResponses },
    },
  }, async (request, reply) => {
    // Counted before the password is checked, as a login is, so that concurrent guesses cannot all slip under the limit.
    const refund = await request.server.rateLimits.attempt(request.ip);
    await changeOwnPassword(ctx, principalOf(request), request.body.current_password, request.body.new_password).catch(async (err: unknown) => {
      // Only a wrong current password counts against the address.
      if (!(err instanceof AppError && err.errors?.current_password)) await refund();
      throw err;
    });
    await refund();
    return reply.code(204).send();
  });

  app.get('/auth/me', {
    config: { auth: 'any' },
    schema: { operationId: 'me', tags: ['auth'], summary: 'Who the caller is, and the key it used.', response: { 200: MeResponse, ...errorResponses } },
  }, async (request) => {
    const p = principalOf(request);
    return {
      username: p.user.username,
      is_superuser: p.user.isSuperuser,
      api_key: p.key ? { prefix: p.key.prefix, scopes: p.key.scopes, own_objects_only: p.key.ownObjectsOnly, project_id: p.key.projectId } : null,
      api_keys_enabled: apiKeysEnabledFor(ctx.config.apiKeysFor, p.user),
      // The key form needs the portal's key policies to ask for what it must send.
      api_key_project_required: ctx.config.apiKeyProject === 'required',
      api_key_expiry_required: ctx.config.apiKeyExpiry === 'required',
      api_key_max_days: ctx.config.apiKeyMaxDays,
      cloud: ctx.config.cloud,
      ...(p.csrfToken ? { csrf_token: p.csrfToken } : {}),
    };
  });
}
