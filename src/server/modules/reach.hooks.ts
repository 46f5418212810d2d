// Reach checks that run before validation (spec §3, "Reach before validation"): a project or an
// object out of the caller's reach answers 404 whatever else is wrong with the request.
import type { FastifyRequest } from 'fastify';
import { reachOf, type Reach } from '../auth/policy.js';
import { principalOf } from '../auth/route-auth.js';
import type { AppContext } from '../context.js';
import { notFound } from '../errors.js';
import { isPlausibleId } from './shared.schemas.js';

type Part = 'body' | 'query' | 'params';

function rawField(request: FastifyRequest, part: Part, field: string): unknown {
  const container = request[part] as Record<string, unknown> | undefined | null;
  if (!container || typeof container !== 'object') return undefined;
  const v = container[field];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** A project id as the request gives it, if it is one; anything else is left to validation. */
function asId(value: unknown): number | null {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^\s*\d{1,15}\s*$/.test(value)) return Number(value);
  return null;
}

/**
 * 404 when the request names a project (in `part`.`field`) that the caller cannot reach. The check
 * is handed in (projects.repository's isProjectReachable), as objectParamReach's is, so that this
 * file, which every resource's routes use, depends on no resource.
 */
export function projectFieldReach(
  isReachable: (q: AppContext['db']['kysely'], reach: Reach, id: number) => Promise<boolean>,
  ctx: AppContext,
  part: Part,
  field: string,
) {
  return async (request: FastifyRequest): Promise<void> => {
    const id = asId(rawField(request, part, field));
    if (id === null) return;
    // Outside the id column's range no project exists (and PostgreSQL would refuse to compare).
    if (id < 1 || id > 2_147_483_647 || !(await isReachable(ctx.db.kysely, reachOf(principalOf(request)), id))) {
      throw notFound('No such project.');
    }
  };
}

/** 404 when the object named by a path parameter is out of reach. */
export function objectParamReach(
  isReachable: (q: AppContext['db']['kysely'], reach: Reach, id: string) => Promise<boolean>,
  ctx: AppContext,
  what: string,
) {
  return async (request: FastifyRequest): Promise<void> => {
    const id = rawField(request, 'params', 'openstack_id');
    if (typeof id !== 'string' || !isPlausibleId(id) || !(await isReachable(ctx.db.kysely, reachOf(principalOf(request)), id))) {
      throw notFound(`No such ${what}.`);
    }
  };
}
