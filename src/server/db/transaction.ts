// Acts that must be atomic and also compose: called with a transaction they join it (the first
// start creates admin, project and membership in one), called with the database they open their own.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './types.js';

export type Queryable = Kysely<Database> | Transaction<Database>;

export function inTransaction<T>(q: Queryable, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  // Kysely cannot nest transactions: a Transaction's own transaction() throws.
  return q.isTransaction ? fn(q as Transaction<Database>) : q.transaction().execute(fn);
}
