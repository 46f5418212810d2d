// Acts that must be atomic and also compose: called with a transaction they join it (the first
// start creates admin, project and membership in one), called with the database they open their own.
import type { Kysely, Transaction } from 'kysely';
import { AppError } from '../errors.js';
import type { Db } from './index.js';
import type { Database } from './types.js';

export type Queryable = Kysely<Database> | Transaction<Database>;

export function inTransaction<T>(q: Queryable, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  // Kysely cannot nest transactions: a Transaction's own transaction() throws.
  return q.isTransaction ? fn(q as Transaction<Database>) : q.transaction().execute(fn);
}

/**
 * After a committed change to keys, users or memberships: returns once every instance that answers
 * key checks from memory has dropped what the change touched (Db.settleKeyChanges), so that the
 * change holds everywhere before the caller answers. 503 when a live instance never confirmed.
 */
export async function keyChangesSettled(db: Pick<Db, 'settleKeyChanges'>): Promise<void> {
  const stuck = await db.settleKeyChanges();
  if (stuck.length > 0) {
    throw new AppError('unavailable', `The change is saved, but ${stuck.length} portal instance(s) did not confirm it in time; it holds on them once their lease lapses.`);
  }
}
