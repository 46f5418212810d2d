// Research environments (spec §9): the template list under /api/, and the portal as the
// authenticated reverse proxy at /resenv/{openstack_id}/… (HTTP and WebSocket, @fastify/http-proxy).
//
// Who gets through the proxy is decided here, not by the request guard's route modes: only a web
// session whose user may see the VM (the VM API's reach rules, resenv.service.ts), for a VM that is
// ACTIVE with an environment. An API key gets 404 (an environment is for people in a browser); a
// browser without a session is sent to the login page, to come back afterwards; anyone else gets
// 404. A WebSocket upgrade is routed through Fastify like any request (http-proxy's upgrade
// listener), so the same hook judges it before the proxy opens a connection to the VM.
//
// Where: without SIMPLEVM_RESENV_URL on the portal's own origin, where a VM's page could call the
// portal's API with the session of whoever opens it. With it, the portal's host only hands an
// admitted session a one-time ticket to the environments' host; that host exchanges it for a grant
// cookie, admits by that cookie alone (its session must still be live, the VM still in reach), and
// serves nothing but /resenv/… (resenvHostOnly), so that a page there finds no API on its own origin.
//
// Not counted against the per-user rate limit (SIMPLEVM_RATE_LIMIT): an IDE loads hundreds of files
// and polls, which would use up the user's API budget within a minute.
import fastifyHttpProxy from '@fastify/http-proxy';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Principal } from '../../auth/principal.js';
import { isCrossSite } from '../../auth/origin.js';
import type { App, AppContext } from '../../context.js';
import { AppError, errorResponses, notFound, sendError } from '../../errors.js';
import { SESSION_COOKIE, verifySession } from '../sessions/sessions.verify.js';
import { isPlausibleId } from '../shared.schemas.js';
import { resenvCatalogue } from './resenv.catalogue.js';
import {
  type Forwarding, RESENV_GRANT_COOKIE, RESENV_TICKET_PATH, portalLocation, portalSetCookie, proxiedSecurityHeaders, upstreamRequestHeaders,
} from './resenv.proxy.js';
import { ResearchEnvironmentOut } from './resenv.schemas.js';
import { RESENV_MOUNT, type ResenvTarget, issueResenvTicket, redeemResenvTicket, resenvGrantPrincipal, resenvTarget } from './resenv.service.js';

export function resenvRoutes(app: App, ctx: AppContext): void {
  app.addSchema(ResearchEnvironmentOut);
  // Read at start: a missing or invalid SIMPLEVM_RESENV_FILE stops the server (ConfigError).
  resenvCatalogue(ctx.config);

  app.get('/research-environments', {
    config: { auth: 'any' },
    schema: {
      operationId: 'listResearchEnvironments', tags: ['research-environments'],
      summary: 'The research environment templates a VM can be created with (any authenticated caller; no scope needed).',
      response: { 200: Type.Array(Type.Ref('ResearchEnvironment')), ...errorResponses },
    },
  }, async () => resenvCatalogue(ctx.config));
}

/**
 * The route parameter the proxy's rewritePrefix names: set to the VM's user path once the request
 * is admitted, so that http-proxy forwards `/resenv/{id}/x` to `{user path}x` (HTTP and WebSocket).
 */
const USER_PATH_PARAM = 'resenv_user_path';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const NOT_ANSWERING = 'The research environment does not answer; it may still be starting. Try again in a minute.';

/**
 * The request presents an API key, well-formed or not: X-API-KEY, or any Authorization header (the
 * request guard's reading, http/guard.ts presentedKey, which this module may not import: the guard
 * depends on the modules). A VM never sees either header.
 */
const presentsKey = (request: FastifyRequest) => request.headers['x-api-key'] !== undefined || request.headers.authorization !== undefined;

const isWebSocketUpgrade = (request: FastifyRequest) => (request.headers.upgrade ?? '').toLowerCase() === 'websocket';

/** A browser asking for a page, as opposed to a script or a page's own request for data. */
const wantsPage = (request: FastifyRequest) =>
  (request.method === 'GET' || request.method === 'HEAD') && (request.headers.accept ?? '').includes('text/html');

/** The path and query of the request (an absolute-form request line's origin dropped). */
const pathOf = (request: FastifyRequest) => {
  const url = new URL(request.url, 'http://portal.invalid');
  return { pathname: url.pathname, search: url.search };
};

/** Which host a request came to: the environments' own (SIMPLEVM_RESENV_URL), the portal's, or the one origin of both. */
type Side = 'environments' | 'portal' | 'one-origin';

function sideOf(resenvUrl: string | null): (request: FastifyRequest) => Side {
  const host = resenvUrl === null ? null : new URL(resenvUrl).host;
  return (request) => (host === null ? 'one-origin' : request.host.toLowerCase() === host ? 'environments' : 'portal');
}

/**
 * On the environments' own host, the portal serves nothing but the proxy: the API, the web app
 * and everything else answer 404 there, so that a VM's page finds no portal on its own origin.
 * Added first on the root, before any other hook; null without SIMPLEVM_RESENV_URL.
 */
export function resenvHostOnly(ctx: AppContext): onRequestAsyncHookHandler | null {
  if (ctx.config.resenvUrl === null) return null;
  const side = sideOf(ctx.config.resenvUrl);
  return async (request, reply) => {
    if (side(request) !== 'environments' || (request.routeOptions.url ?? '').startsWith(`${RESENV_MOUNT}/:`)) return;
    // Rendered here, not thrown: a plugin's own error handler (the API documentation's) would render it otherwise.
    reply.header('x-request-id', request.id);
    return sendError(request, reply, notFound('No such endpoint.'));
  };
}

/**
 * Where a ticket's redemption sends the browser: `next` (the rest of the path it first asked for,
 * relative) under the VM's mount, or the mount itself when `next` is anything else.
 */
export function nextPath(mount: string, next: string | null): string {
  const base = new URL(`${mount}/`, 'http://resenv.invalid');
  // Relative, on one line, without backslashes (which browsers read as slashes).
  if (next === null || !/^(?![/\\])[^\\\x00-\x20\x7f]*$/.test(next)) return base.pathname;
  const url = new URL(next, base);
  return url.origin === base.origin && url.pathname.startsWith(base.pathname) ? `${url.pathname}${url.search}` : base.pathname;
}

/** The proxy at /resenv/{openstack_id}/…; registered on the root, outside /api/, and left out of the OpenAPI document. */
export async function resenvProxy(app: App, ctx: AppContext): Promise<void> {
  resenvCatalogue(ctx.config);
  const targets = new WeakMap<FastifyRequest, ResenvTarget>();
  /** The environment's own Content-Security-Policy, by request, once its answer has come. */
  const answered = new WeakMap<FastifyRequest, string | string[] | undefined>();

  const targetOf = (request: FastifyRequest): ResenvTarget => {
    const target = targets.get(request);
    // The admission hook runs before every proxied request; without it nothing may be forwarded.
    if (!target) throw new Error('research environment request forwarded without admission');
    return target;
  };
  const forwardingOf = (request: FastifyRequest): Forwarding => ({
    clientIp: request.ip, proto: request.protocol, host: request.host, prefix: targetOf(request).mount,
  });

  app.addHook('onRoute', (route) => {
    route.schema = { ...(route.schema ?? {}), hide: true };
  });
  // Bodies go to the VM as they came, whatever their type and size (uploads to JupyterLab, RStudio).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  const { resenvUrl, publicUrl } = ctx.config;
  const side = sideOf(resenvUrl);
  if (resenvUrl === null) {
    app.log.warn(
      'Research environments are served on the portal\'s own origin (/resenv/…): a page served by a VM can call the portal\'s API with ' +
        'the session of whoever opens it (project admins, superusers). Set SIMPLEVM_RESENV_URL to serve them from a host name of their own.',
    );
  }

  /** Lets the request through to the VM: its target, and the route parameter the proxy rewrites to. */
  const admit = async (request: FastifyRequest, principal: Principal, id: string) => {
    request.principal = principal;
    const target = await resenvTarget(ctx, principal, id);
    targets.set(request, target);
    (request.params as Record<string, string>)[USER_PATH_PARAM] = target.pathPrefix;
  };

  app.addHook('onRequest', async (request, reply) => {
    const id = (request.params as Record<string, string | undefined>).openstack_id;
    if (id === undefined || !isPlausibleId(id)) throw notFound('No research environment here.');
    // Keys are for scripts; an environment is for a person in a browser. Not even the owner's key.
    if (presentsKey(request)) throw notFound('No research environment here.');
    const upgrade = isWebSocketUpgrade(request);
    const where = side(request);
    // A page of another site may neither open a WebSocket nor send a form into an environment with
    // the user's cookie (SameSite=Lax already keeps the cookie from most such requests). On the
    // environments' host, the portal's pages count as another site too.
    if ((upgrade || !SAFE_METHODS.has(request.method)) && isCrossSite(request.headers, request.host, where === 'environments' ? null : publicUrl)) {
      throw notFound('No research environment here.');
    }
    const { pathname, search } = pathOf(request);
    // The path as the browser sent it: /resenv/{id as sent}/{rest…}.
    const [, , sentId, ...rest] = pathname.split('/');
    const mount = `${RESENV_MOUNT}/${sentId}`;
    // The environment's relative links resolve against the page's address: its root needs the last slash.
    const bare = !upgrade && rest.length === 0;

    if (where === 'environments') {
      if (rest.length === 1 && rest[0] === RESENV_TICKET_PATH) {
        const ticket = new URLSearchParams(search).get('t');
        const grant = request.method === 'GET' && ticket ? await redeemResenvTicket(ctx, ticket, id) : null;
        if (!grant) throw notFound('No research environment here.');
        reply.setCookie(RESENV_GRANT_COOKIE, grant.token, {
          path: `${mount}/`, httpOnly: true, sameSite: 'lax', secure: resenvUrl?.startsWith('https:') === true, expires: grant.expiresAt,
        });
        return reply.header('cache-control', 'no-store').redirect(nextPath(mount, new URLSearchParams(search).get('next')));
      }
      // Before admission: the grant cookie is sent only under the last slash.
      if (bare) return reply.redirect(`${pathname}/${search}`);
      const token = request.cookies?.[RESENV_GRANT_COOKIE];
      const principal = token ? await resenvGrantPrincipal(ctx, token, id, request.ip) : null;
      if (!principal) {
        // A browser without a grant (the VM's link followed, the session since ended) gets one on
        // the portal's host, logging in first if need be.
        if (!upgrade && wantsPage(request)) return reply.header('cache-control', 'no-store').redirect(`${publicUrl ?? ''}${pathname}${search}`);
        throw notFound('No research environment here.');
      }
      return admit(request, principal, id);
    }

    const token = request.cookies?.[SESSION_COOKIE];
    const principal = token ? await verifySession(ctx, token, request.ip) : null;
    if (!principal) {
      if (!upgrade && wantsPage(request)) {
        return reply.header('cache-control', 'no-store').redirect(`/login?next=${encodeURIComponent(pathname + search)}`);
      }
      throw notFound('No research environment here.');
    }
    if (where === 'portal') {
      // The portal's host never proxies: an admitted page visit is handed over to the environments' host.
      if (upgrade || request.method !== 'GET') throw notFound('No research environment here.');
      await resenvTarget(ctx, principal, id);
      const ticket = await issueResenvTicket(ctx, principal, id);
      const next = encodeURIComponent(`${rest.join('/')}${search}`);
      return reply.header('cache-control', 'no-store').redirect(`${resenvUrl ?? ''}${mount}/${RESENV_TICKET_PATH}?t=${ticket}&next=${next}`);
    }
    await admit(request, principal, id);
    if (bare) return reply.redirect(`${pathname}/${search}`);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    // Only the environment's own answers; the proxy's refusals keep the portal's headers.
    if (answered.has(request)) reply.headers(proxiedSecurityHeaders(answered.get(request)));
    return payload;
  });

  await app.register(fastifyHttpProxy, {
    prefix: `${RESENV_MOUNT}/:openstack_id`,
    upstream: '',
    rewritePrefix: `:${USER_PATH_PARAM}`,
    websocket: true,
    // Bodies are passed on by the parser above; http-proxy's own parsers would clash with the portal's.
    proxyPayloads: false,
    internalRewriteLocationHeader: false,
    disableRequestLogging: true,
    replyOptions: {
      getUpstream: (request) => targetOf(request as FastifyRequest).origin,
      rewriteRequestHeaders: (request, headers) => upstreamRequestHeaders(headers, forwardingOf(request as FastifyRequest)) as typeof headers,
      rewriteHeaders: (headers, request) => {
        const target = targetOf(request as FastifyRequest);
        answered.set(request as FastifyRequest, headers['content-security-policy']);
        const out = { ...headers };
        delete out['content-security-policy'];
        if (typeof out.location === 'string') out.location = portalLocation(out.location, target);
        const cookies = out['set-cookie'];
        if (cookies !== undefined) {
          const kept = (Array.isArray(cookies) ? cookies : [cookies]).map((c) => portalSetCookie(c, target)).filter((c): c is string => c !== null);
          if (kept.length) out['set-cookie'] = kept;
          else delete out['set-cookie'];
        }
        return out;
      },
      // An environment that is still starting (or stopped inside the VM) is not the portal's failure
      // (a 500); reply-from has logged why it did not answer.
      onError: (reply) => {
        const r = reply as unknown as FastifyReply;
        sendError(r.request, r, new AppError('unavailable', NOT_ANSWERING, { headers: { 'retry-after': '30' } }));
      },
      // No retries: a GET answered 503 would otherwise be asked again up to ten times.
      retryDelay: () => null,
    },
    wsClientOptions: {
      // The browser's cookies (less the portal's) and X-Forwarded-*, nothing else of its request.
      rewriteRequestHeaders: (headers: Record<string, string>, request: FastifyRequest) =>
        upstreamRequestHeaders({ ...headers, cookie: request.headers.cookie }, forwardingOf(request)),
      handshakeTimeout: 10_000,
    },
  });
}
