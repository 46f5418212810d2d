// buildApp(ctx): external plugins, then authentication, then the modules, under /api/ and /portal/api/.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { sql } from 'kysely';
import type { DestinationStream } from 'pino';
import { maskKeys } from '../shared/key-mask.js';
import './auth/route-auth.js';
import type { App, AppContext } from './context.js';
import { AppError, ErrorBody, sendError } from './errors.js';
import { requestGuard } from './http/guard.js';
import { securityHeaders } from './http/security-headers.js';
import { auditRoutes } from './modules/audit/audit.routes.js';
import { condaRoutes } from './modules/conda/conda.routes.js';
import { keysRoutes } from './modules/keys/keys.routes.js';
import { projectsRoutes } from './modules/projects/projects.routes.js';
import { resenvHostOnly, resenvProxy, resenvRoutes } from './modules/resenv/resenv.routes.js';
import { sessionsRoutes } from './modules/sessions/sessions.routes.js';
import { oidcRoutes } from './modules/oidc/oidc.routes.js';
import { snapshotsRoutes } from './modules/snapshots/snapshots.routes.js';
import { sshKeysRoutes } from './modules/ssh-keys/ssh-keys.routes.js';
import { vmsRoutes } from './modules/vms/vms.routes.js';
import { volumesRoutes } from './modules/volumes/volumes.routes.js';
import { validatorCompiler } from './validation.js';

export interface BuildOptions {
  /** Where log lines go (tests capture them); default stdout. */
  logStream?: DestinationStream;
}

/**
 * A URL as it may be logged: keys masked, and the values of `code`, `state` and `t` (a research
 * environment's ticket, /resenv/{id}/__simplevm_ticket?t=…) replaced. Escapes of
 * ASCII characters are decoded first (a few rounds, for a URL encoded twice), so that a key sent as
 * `svm%5F…` or `%73vm_…` is found as well (issue 16).
 */
export function maskUrlSecrets(url: string): string {
  let decoded = url;
  for (let round = 0; round < 3 && decoded.includes('%'); round++) decoded = decoded.replace(/%([0-7][0-9A-Fa-f])/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return maskKeys(decoded).replace(/([?&](?:code|state|t)=)[^&#]*/g, '$1[redacted]');
}
/** The web app as `npm install` builds it (vite build); without it, `/` answers a small page. */
const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** The web app's Content-Security-Policy: its own scripts only, nothing inline, no framing. */
export const CSP_DIRECTIVES = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'font-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

/** Headers and cookies that carry secrets never reach a log line. */
export const REDACT = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'headers["x-api-key"]',
  'headers.authorization',
  'headers.cookie',
];

export async function buildApp(ctx: AppContext, opts: BuildOptions = {}): Promise<App> {
  // Security headers on every answer, also the router's own errors (helmet's defaults, with these
  // choices): the CSP above; no framing at all; the referrer only to the portal itself. HSTS is left
  // to the TLS-terminating proxy, which knows whether the site is served over HTTPS.
  const headers = securityHeaders({
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'same-origin' },
    strictTransportSecurity: false,
  });
  const app = Fastify({
    logger: {
      level: ctx.config.logLevel,
      redact: { paths: REDACT, censor: '[redacted]' },
      // Secrets that can travel in a URL stay out of the log: a key a client put there, and the
      // one-time code and state of a single sign-on callback, a research environment's ticket.
      serializers: {
        req: (req: { method: string; url: string; hostname?: string; ip?: string; socket?: { remotePort?: number } }) => ({
          method: req.method,
          url: maskUrlSecrets(req.url),
          host: req.hostname,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort,
        }),
      },
      ...(opts.logStream ? { stream: opts.logStream } : {}),
    },
    genReqId: () => randomUUID(),
    // Through the factory, so that the plugin contexts that add schemas (every module) use this
    // validator too: setValidatorCompiler alone reaches only the root context, and Fastify's default
    // Ajv would coerce JSON bodies ("storage": "10", "scopes": "vm:read").
    schemaController: { compilersFactory: { buildValidator: () => validatorCompiler as never } },
    trustProxy: trustProxyOption(ctx.config.trustProxy),
    bodyLimit: 256 * 1024,
    routerOptions: {
      ignoreTrailingSlash: true,
      maxParamLength: 200,
    },
    frameworkErrors: (error, request, reply) => {
      // The router answers these before any hook of ours runs.
      reply.headers(headers);
      reply.header('x-request-id', request.id);
      sendError(request, reply, error);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // On the research environments' own host (SIMPLEVM_RESENV_URL) nothing but /resenv/… is served:
  // this hook comes first, so that every route and the 404 handler below have it.
  const environmentsHost = resenvHostOnly(ctx);
  if (environmentsHost) app.addHook('onRequest', environmentsHost);

  app.addSchema(ErrorBody);

  // Only JSON and form bodies are accepted (Fastify would also take text/plain).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  await app.register(formbody, { bodyLimit: 256 * 1024 });
  await app.register(cookie);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'SimpleVM portal API',
        version: '1.0.0',
        description:
          'Run virtual machines and volumes in your cloud projects. Authenticate with `X-API-KEY: svm_…` ' +
          '(or `Authorization: Bearer svm_…`), or with the session cookie of the web app plus `X-CSRF-Token` on unsafe requests. ' +
          'Every path also answers under `/portal/api/`, and a trailing slash is optional. POST bodies may be JSON or form-encoded.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-KEY' },
          bearer: { type: 'http', scheme: 'bearer' },
          session: { type: 'apiKey', in: 'cookie', name: 'simplevm_session' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }, { session: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/portal/api/docs', uiConfig: { url: '/api/openapi.json' } });
  const webApp = existsSync(`${WEB_DIST}index.html`);
  if (webApp) {
    await app.register(fastifyStatic, {
      root: WEB_DIST,
      wildcard: false,
      cacheControl: false,
      // Built assets have content hashes in their names; index.html must always be fresh.
      setHeaders: (res, path) => res.setHeader('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'),
    });
  }

  // Authentication, rate limits, CSRF, scope and reach: the request guard (http/guard.ts).
  await app.register(requestGuard, ctx);

  // Shutting down (SIGTERM), the requests in flight finish, but server.close() also waits for every
  // keep-alive connection, and a client or reverse proxy holding one would stall the shutdown for
  // the keep-alive timeout (72 s): while closing, each answer closes its connection.
  let closing = false;
  // A connection that has not sent a request yet (a client's spare connection, a TCP health check)
  // counts as busy to Node, so server.close() would wait for its headers timeout: those end at once.
  const silent = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    silent.add(socket);
    socket.once('close', () => silent.delete(socket));
  });
  app.server.on('request', (request: { socket: Socket }) => silent.delete(request.socket));
  app.addHook('preClose', (done) => {
    closing = true;
    for (const socket of silent) socket.destroy();
    done();
  });

  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.headers(headers);
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });

  app.setErrorHandler((err, request, reply) => sendError(request, reply, err));
  app.setNotFoundHandler((request, reply) => {
    // A missing file (a name with an extension) is a 404 too; any other page is the web app's to route.
    if (isApiPath(request.url) || request.method !== 'GET' || /\.\w+$/.test(request.url.split('?')[0])) {
      return sendError(request, reply, new AppError('not_found', 'No such endpoint.'));
    }
    if (webApp) return reply.sendFile('index.html');
    return reply.type('text/html; charset=utf-8').send(
      '<!doctype html><title>SimpleVM portal</title><h1>SimpleVM portal</h1><p>API documentation: <a href="/portal/api/docs/">/portal/api/docs/</a></p>',
    );
  });

  app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
    try {
      await sql`select 1`.execute(ctx.db.kysely);
      return { status: 'ok' };
    } catch {
      return reply.code(503).send({ status: 'unavailable', detail: 'The database cannot be reached.', code: 'unavailable' });
    }
  });
  // Under both prefixes, like every route (spec §3, §8): scripts written for SimpleVM fetch /portal/api/openapi.json.
  for (const prefix of ['/api', '/portal/api']) app.get(`${prefix}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());

  // Research environments: the portal as the authenticated reverse proxy at /resenv/{openstack_id}/ (spec §9).
  await app.register(resenvProxy, ctx);

  for (const prefix of ['/api', '/portal/api']) {
    await app.register(
      async (api: App) => {
        if (prefix !== '/api') {
          // The /portal/api/ copies are the same routes; document each once.
          api.addHook('onRoute', (route) => {
            route.schema = { ...(route.schema ?? {}), hide: true };
          });
        }
        sessionsRoutes(api, ctx);
        oidcRoutes(api, ctx);
        keysRoutes(api, ctx);
        sshKeysRoutes(api, ctx);
        projectsRoutes(api, ctx);
        vmsRoutes(api, ctx);
        volumesRoutes(api, ctx);
        snapshotsRoutes(api, ctx);
        auditRoutes(api, ctx);
        resenvRoutes(api, ctx);
        condaRoutes(api, ctx);
      },
      { prefix },
    );
  }
  return app;
}

/**
 * Fastify's trustProxy for the configured proxies. A hop count becomes proxy-addr's own rule for a
 * number (hop 0 is the socket's peer), which Fastify's types do not list.
 */
function trustProxyOption(trust: AppContext['config']['trustProxy']): false | string[] | ((address: string, hop: number) => boolean) {
  return typeof trust === 'number' ? (_address, hop) => hop < trust : trust;
}

function isApiPath(url: string): boolean {
  return url.startsWith('/api/') || url === '/api' || url.startsWith('/portal/api');
}
