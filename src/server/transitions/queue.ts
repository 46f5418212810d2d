// The one way to start a transition: a row written in the same database transaction as the
// object's new in-flight state, picked up by the worker.
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { CloudProvider } from '../cloud/provider.js';
import { AppError, isUniqueViolation } from '../errors.js';
import type { Database, TransitionsTable } from '../db/types.js';
import { insertTransition } from './transitions.repository.js';

export async function queueTransition(
  // Only what queueing reads (an AppContext fits): naming AppContext here would make the engine and
  // context.ts, which names the worker, import each other.
  ctx: { cloud: Pick<CloudProvider, 'transitionTimeoutMs'> },
  trx: Transaction<Database>,
  objectType: TransitionsTable['object_type'],
  objectId: string,
  action: string,
  params: Record<string, unknown>,
): Promise<void> {
  const now = Date.now();
  try {
    await insertTransition(trx, {
      id: randomUUID(),
      object_type: objectType,
      object_id: objectId,
      action,
      params: JSON.stringify(params),
      due_at: new Date(now).toISOString(),
      deadline_at: new Date(now + ctx.cloud.transitionTimeoutMs).toISOString(),
      created_at: new Date(now).toISOString(),
    });
  } catch (err) {
    // One transition per object (a unique index): a concurrent request that read the object before
    // another action on it committed loses here, as it would have on the object's task_state.
    if (isUniqueViolation(err)) throw new AppError('invalid_state', 'Another action on this object is in progress.');
    throw err;
  }
}
