// The request guard: the whole security pipeline of a request, in the order it runs. Each route
// declares what it needs in its `config` (auth/route-auth.ts); this plugin enforces it:
//
//   onRequest      throttle (failed authentications per IP) → authenticate (API key, else session
//                  cookie) → rate limit (per key / per user) → session-only routes → CSRF on unsafe
//                  session requests → the key's scope
//   preValidation  form bodies coerced to the schema's types → reach (404 before any 400)
//
// An API key's way from the header to its row: this file (presentedKey) → modules/keys/keys.verify.ts
// → modules/keys/keys.repository.ts.
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Principal } from '../auth/principal.js';
import { constantTimeEqual } from '../auth/tokens.js';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { KeyVerifier } from '../modules/keys/keys.verify.js';
import { SESSION_COOKIE, verifySession } from '../modules/sessions/sessions.verify.js';
import { coerceFormBody, foldDottedFields } from '../validation.js';
import { createRateLimits } from './rate-limit.js';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const FORM = 'application/x-www-form-urlencoded';

/**
 * Longest credential header looked at: a key is 51 characters, so anything much longer is refused
 * as a bad key without being read further.
 */
export const MAX_CREDENTIAL_HEADER = 1024;

/** The key the request presents ('' for one that cannot be a key), or undefined when it presents none. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (header !== undefined) {
    const value = Array.isArray(header) ? header[0] ?? '' : header;
    return value.length > MAX_CREDENTIAL_HEADER ? '' : value;
  }
  const authz = request.headers.authorization;
  return authz === undefined ? undefined : bearerToken(authz);
}

const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\v' || c === '\f' || c === '\u00a0';

/**
 * The token of `Bearer <token>` (scheme case-insensitive, spaces around the token allowed), or ''
 * when the header is anything else. One pass over at most MAX_CREDENTIAL_HEADER characters: a
 * regular expression here ran before any rate limit and backtracked quadratically on long runs of
 * spaces (issue 16).
 */
export function bearerToken(header: string): string {
  const n = header.length;
  if (n > MAX_CREDENTIAL_HEADER || n < 7 || header.slice(0, 6).toLowerCase() !== 'bearer' || !isSpace(header[6])) return '';
  let i = 7;
  while (i < n && isSpace(header[i])) i++;
  const start = i;
  while (i < n && !isSpace(header[i])) i++;
  const token = header.slice(start, i);
  while (i < n && isSpace(header[i])) i++;
  return i === n ? token : '';
}

/**
 * X-Forwarded-For as far as it can be read from the right: up to (not including) the rightmost
 * entry that is not an IP address, or undefined when even the last one is not. The trusted proxies
 * append real addresses on the right; anything else was written by a client, and an address that is
 * not one (a 15,000-character junk value) must not become the client's address in the audit log and
 * the rate limits (PostgreSQL refused to store it: a 500).
 */
export function readableForwardedFor(header: string): string | undefined {
  const entries = header.split(',');
  let from = entries.length;
  while (from > 0 && isIP(entries[from - 1].trim()) !== 0) from--;
  return from === entries.length ? undefined : entries.slice(from).map((e) => e.trim()).join(', ');
}

function isForm(request: FastifyRequest): boolean {
  return (request.headers['content-type'] ?? '').toLowerCase().startsWith(FORM);
}

async function guard(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const keys = new KeyVerifier(ctx);
  const rateLimits = createRateLimits(ctx.config, (err) => app.log.warn({ err }, 'rate-limit counter unavailable; limit skipped'));
  app.decorate('rateLimits', rateLimits);
  app.decorateRequest('principal', null);
  app.addHook('onClose', () => rateLimits.close());

  /** An API key wins over the cookie: a request that presents a key is judged by that key alone. */
  const authenticate = (request: FastifyRequest, key: string | undefined): Promise<Principal | null> => {
    // Not async: the verifier's promise is handed on as it is, without another turn.
    if (key !== undefined) return keys.verify(key, request.ip);
    const token = request.cookies?.[SESSION_COOKIE];
    return token ? verifySession(ctx, token, request.ip) : Promise.resolve(null);
  };

  const trustsProxies = ctx.config.trustProxy !== false;
  app.addHook('onRequest', async (request, reply) => {
    // Before anything reads the database for this request (see Db.requestArrived).
    ctx.db.requestArrived();
    // Before anything reads request.ip (Fastify works it out from the header at each reading).
    const raw = request.raw.headers;
    const forwarded = raw['x-forwarded-for'];
    if (trustsProxies && forwarded !== undefined) {
      const readable = readableForwardedFor(Array.isArray(forwarded) ? forwarded.join(',') : forwarded);
      if (readable === undefined) delete raw['x-forwarded-for'];
      else raw['x-forwarded-for'] = readable;
    }
    reply.header('x-request-id', request.id);
    const { auth, scope, authFailure } = request.routeOptions.config;
    const key = presentedKey(request);
    // The limits' checks give nothing to wait for when they are off: no needless turn of the loop.
    const throttled = authFailure || (key !== undefined && auth && auth !== 'none') ? rateLimits.assertNotThrottled(request.ip) : undefined;
    if (throttled) await throttled;
    if (!auth || auth === 'none') return;
    let principal: Principal | null;
    try {
      principal = await authenticate(request, key);
    } catch (err) {
      if (err instanceof AppError && err.code === 'not_authenticated') await rateLimits.noteFailure(request.ip);
      throw err;
    }
    if (!principal) throw new AppError('not_authenticated', 'Authentication credentials were not provided.');
    const counted = rateLimits.hitPrincipal(principal);
    if (counted) await counted;
    if (auth === 'session' && principal.via !== 'session') {
      throw new AppError('session_required', 'This endpoint needs a web session; API keys cannot manage keys.');
    }
    if (principal.via === 'session' && UNSAFE.has(request.method)) {
      const sent = request.headers['x-csrf-token'];
      if (typeof sent !== 'string' || !principal.csrfToken || !constantTimeEqual(sent, principal.csrfToken)) {
        throw new AppError('csrf_failed', 'The X-CSRF-Token header is missing or does not match your session.');
      }
    }
    if (principal.key && scope && !principal.key.scopes.includes(scope)) {
      throw new AppError('insufficient_scope', `This API key lacks the scope "${scope}".`);
    }
    request.principal = principal;
  });

  // Form values are coerced to the body schema's types, then reach is checked before validation:
  // on the routes that take a body or check reach (the others skip this step altogether).
  const preValidation = async (request: FastifyRequest) => {
    const bodySchema = request.routeOptions.schema?.body as Parameters<typeof coerceFormBody>[1];
    // A POST without a body is judged field by field, like an empty one.
    if (request.body === undefined && bodySchema && (bodySchema as { type?: string }).type === 'object') request.body = {};
    if (request.body && typeof request.body === 'object' && !Array.isArray(request.body)) {
      const folded = foldDottedFields(request.body as Record<string, unknown>, bodySchema);
      request.body = isForm(request) ? coerceFormBody(folded, bodySchema) : folded;
    }
    const reach = request.routeOptions.config.reach;
    if (reach) await reach(request);
  };
  app.addHook('onRoute', (route) => {
    if (!route.schema?.body && !(route.config as { reach?: unknown } | undefined)?.reach) return;
    const own = route.preValidation;
    route.preValidation = own ? [preValidation, ...(Array.isArray(own) ? own : [own])] : preValidation;
  });
}

/** Registered before the routes, on the root instance (not encapsulated: its hooks reach every route). */
export const requestGuard = fp(guard, { name: 'simplevm-request-guard', fastify: '5.x' });
