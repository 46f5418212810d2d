import { SESSION_COOKIE } from '../../auth/authenticate.js';
import { noteAuthFailure } from '../../auth/rate-limit.js';
import { principalOf } from '../../auth/route-auth.js';
import type { App, AppContext } from '../../context.js';
import { errorResponses } from '../../errors.js';
import { LoginBody, LoginResponse, MeResponse, UserOut } from './sessions.schemas.js';
import { login, logout } from './sessions.service.js';

export function sessionsRoutes(app: App, ctx: AppContext): void {
  app.addSchema(UserOut);

  app.post('/auth/login', {
    config: { auth: 'none', authFailure: true },
    schema: {
      operationId: 'login',
      tags: ['auth'],
      summary: 'Log in with a local account; sets the session cookie.',
      body: LoginBody,
      response: { 200: LoginResponse, ...errorResponses },
    },
  }, async (request, reply) => {
    const r = await login(ctx, request.body.username, request.body.password, request.ip).catch(async (err: unknown) => {
      await noteAuthFailure(request);
      throw err;
    });
    reply.setCookie(SESSION_COOKIE, r.token, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: request.protocol === 'https',
      expires: r.expiresAt,
    });
    return { user: r.user, csrf_token: r.csrfToken };
  });

  app.post('/auth/logout', {
    config: { auth: 'session' },
    schema: { operationId: 'logout', tags: ['auth'], summary: 'End the web session.', response: { 204: { type: 'null' }, ...errorResponses } },
  }, async (request, reply) => {
    await logout(ctx, principalOf(request));
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
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
      api_keys_enabled: ctx.config.apiKeysFor === 'all' || p.user.isSuperuser,
      ...(p.csrfToken ? { csrf_token: p.csrfToken } : {}),
    };
  });
}
