// Per-route authentication and authorization, declared in the route's `config` and enforced by
// the hooks that app.ts installs: who may call (onRequest), then reach (preValidation), so that
// 401/403 come before 404, and 404 for anything out of reach comes before 400 (spec §3).
import type { FastifyRequest } from 'fastify';
import type { Principal, Scope } from './principal.js';

export type AuthMode = 'none' | 'session' | 'any';

export interface RouteAuth {
  /** `none`: public; `session`: a web session only; `any`: a session or an API key. */
  auth: AuthMode;
  /** The scope an API key needs for this route. */
  scope?: Scope;
  /** Throws not_found when the objects the request names are out of the caller's reach. */
  reach?: (request: FastifyRequest) => Promise<void>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthMode;
    scope?: Scope;
    reach?: (request: FastifyRequest) => Promise<void>;
    /** The route checks credentials itself (login, leaked-key reports): throttled per IP like failed keys. */
    authFailure?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** The principal of an authenticated route; the hooks guarantee it is set. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route without authentication asked for a principal');
  return request.principal;
}
