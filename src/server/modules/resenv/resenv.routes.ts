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
// Not counted against the per-user rate limit (SIMPLEVM_RATE_LIMIT): an IDE loads hundreds of files
// and polls, which would use up the user's API budget within a minute.
import fastifyHttpProxy from '@fastify/http-proxy';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isCrossSite } from '../../auth/origin.js';
import type { App, AppContext } from '../../context.js';
import { AppError, errorResponses, notFound, sendError } from '../../errors.js';
import { SESSION_COOKIE, verifySession } from '../sessions/sessions.verify.js';
import { isPlausibleId } from '../shared.schemas.js';
import { resenvCatalogue } from './resenv.catalogue.js';
import { type Forwarding, portalLocation, portalSetCookie, proxiedSecurityHeaders, upstreamRequestHeaders } from './resenv.proxy.js';
import { ResearchEnvironmentOut } from './resenv.schemas.js';
import { RESENV_MOUNT, type ResenvTarget, resenvTarget } from './resenv.service.js';

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

  app.addHook('onRequest', async (request, reply) => {
    const id = (request.params as Record<string, string | undefined>).openstack_id;
    if (id === undefined || !isPlausibleId(id)) throw notFound('No research environment here.');
    // Keys are for scripts; an environment is for a person in a browser. Not even the owner's key.
    if (presentsKey(request)) throw notFound('No research environment here.');
    const upgrade = isWebSocketUpgrade(request);
    // A page of another site may neither open a WebSocket nor send a form into an environment with
    // the user's cookie (SameSite=Lax already keeps the cookie from most such requests).
    if ((upgrade || !SAFE_METHODS.has(request.method)) && isCrossSite(request.headers, request.host, ctx.config.publicUrl)) {
      throw notFound('No research environment here.');
    }
    const token = request.cookies?.[SESSION_COOKIE];
    const principal = token ? await verifySession(ctx, token, request.ip) : null;
    if (!principal) {
      if (!upgrade && wantsPage(request)) {
        const { pathname, search } = pathOf(request);
        return reply.header('cache-control', 'no-store').redirect(`/login?next=${encodeURIComponent(pathname + search)}`);
      }
      throw notFound('No research environment here.');
    }
    request.principal = principal;
    const target = await resenvTarget(ctx, principal, id);
    targets.set(request, target);
    (request.params as Record<string, string>)[USER_PATH_PARAM] = target.pathPrefix;
    // The environment's relative links resolve against the page's address: its root needs the last slash.
    const { pathname, search } = pathOf(request);
    if (!upgrade && !pathname.endsWith('/') && pathname.split('/').length === 3) return reply.redirect(`${pathname}/${search}`);
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
