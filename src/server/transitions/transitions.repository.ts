// SQL for durable transitions: one row per state change in flight, claimed with a lease so that
// exactly one worker drives it, and finished at most once (the history's primary key).
import type { Kysely, Transaction } from 'kysely';
import type { Database, Transition, TransitionsTable } from '../db/types.js';

type Q = Kysely<Database> | Transaction<Database>;

const COLUMNS = [
  'id', 'object_type', 'object_id', 'action', 'params', 'phase', 'due_at', 'deadline_at',
  'lease_owner', 'lease_until', 'attempts', 'created_at',
] as const;

export async function insertTransition(
  q: Q,
  t: Pick<TransitionsTable, 'id' | 'object_type' | 'object_id' | 'action' | 'params' | 'due_at' | 'deadline_at' | 'created_at'>,
): Promise<void> {
  await q.insertInto('transitions').values({ ...t, phase: 'call', lease_owner: null, lease_until: null, attempts: 0 }).execute();
}

export function listDueTransitions(q: Q, nowIso: string, limit: number): Promise<Transition[]> {
  return q
    .selectFrom('transitions')
    .select(COLUMNS)
    .where('due_at', '<=', nowIso)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', nowIso)]))
    .orderBy('due_at')
    .limit(limit)
    .execute();
}

/** Takes the lease on a transition; false when another worker holds it. */
export async function claimTransition(q: Q, id: string, owner: string, nowIso: string, leaseUntil: string): Promise<boolean> {
  const r = await q
    .updateTable('transitions')
    .set((eb) => ({ lease_owner: owner, lease_until: leaseUntil, attempts: eb('attempts', '+', 1) }))
    .where('id', '=', id)
    .where('due_at', '<=', nowIso)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', nowIso)]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export function findClaimedTransition(q: Q, id: string, owner: string): Promise<Transition | undefined> {
  return q.selectFrom('transitions').select(COLUMNS).where('id', '=', id).where('lease_owner', '=', owner).executeTakeFirst();
}

/** Gives the lease back with the next time to look (and the phase reached). */
export async function rescheduleTransition(q: Q, id: string, owner: string, dueAt: string, phase: 'call' | 'poll'): Promise<boolean> {
  const r = await q
    .updateTable('transitions')
    .set({ lease_owner: null, lease_until: null, due_at: dueAt, phase })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Releases every lease an instance holds, so that another may take its work at once. */
export async function releaseLeases(q: Q, owner: string): Promise<void> {
  await q.updateTable('transitions').set({ lease_owner: null, lease_until: null }).where('lease_owner', '=', owner).execute();
}

/**
 * Removes the transition and records it as finished. Returns false, and changes nothing, when
 * this worker no longer holds the lease: then the other holder finishes it instead.
 */
export async function completeTransition(trx: Transaction<Database>, t: Transition, owner: string, outcome: 'success' | 'error', nowIso: string): Promise<boolean> {
  const r = await trx.deleteFrom('transitions').where('id', '=', t.id).where('lease_owner', '=', owner).executeTakeFirst();
  if (Number(r.numDeletedRows) !== 1) return false;
  await trx
    .insertInto('transition_history')
    .values({ transition_id: t.id, object_type: t.object_type, object_id: t.object_id, action: t.action, outcome, finished_by: owner, finished_at: nowIso })
    .execute();
  return true;
}

export function transitionFor(q: Q, objectType: Transition['object_type'], objectId: string): Promise<Transition | undefined> {
  return q.selectFrom('transitions').select(COLUMNS).where('object_type', '=', objectType).where('object_id', '=', objectId).executeTakeFirst();
}
