// The read cache: reads that answer from memory while the database is unchanged. What is kept is
// keyed by the database's version (SQLite: sqlite/statements.ts; PostgreSQL: its snapshot,
// postgres/snapshot-version.ts), so it is exact: an answer is given only while nothing can have
// changed since it was read.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './types.js';

type Q = Kysely<Database> | Transaction<Database>;
export type Arg = string | number | null;

/**
 * The databases whose reads may be memoized, by their Kysely adapter: each gives its version, at
 * once (SQLite) or after asking the database (PostgreSQL).
 */
const versions = new WeakMap<object, () => string | Promise<string>>();

/**
 * Lets the `memo` queries of this database answer from memory. `version` must change whenever what
 * a read returns may have changed (any write, any transaction's end, any other connection's commit).
 *
 * Why this is safe: an answer is kept with the version read before its query ran, and is given only
 * while the version is still the same, so only while nothing can have changed since. Reads inside a
 * transaction neither keep nor take answers (they may see, or must see, uncommitted writes). Rows
 * are frozen, as every caller shares them. A query marked `memo` must depend on nothing but the database
 * and its arguments: never on the clock (pass the time as an argument, or judge it in code, as the
 * key check does with `expires_at`).
 */
export function memoizeReads(db: Kysely<Database>, version: () => string | Promise<string>): void {
  versions.set(db.getExecutor().adapter, version);
}

const MEMO_ENTRIES = 1000;

function memoKey(args: readonly Arg[]): string {
  let key = '';
  for (const a of args) key += a === null ? '\u0001' : typeof a === 'number' ? `\u0002${a}` : `\u0003${a}`;
  return key;
}

export type Memo<R> = Map<string, { version: string; result: Promise<R> }>;

/**
 * `read()`, or its answer kept in `memo` while the database's version holds (see memoizeReads).
 * What is kept is frozen all the way down, as every caller shares it.
 */
export function remembered<R>(memo: Memo<R>, q: Q, args: readonly Arg[], read: () => Promise<R>): Promise<R> {
  const versionOf = q.isTransaction ? undefined : versions.get(q.getExecutor().adapter);
  if (!versionOf) return read();
  const version = versionOf();
  return typeof version === 'string' ? answer(memo, memoKey(args), version, read) : version.then((v) => answer(memo, memoKey(args), v, read));
}

/**
 * The kept answer while `version` still holds; else read, and keep it with the version read before.
 * Callers that find the same version while that read is under way share it (one read, not one per
 * request, when a change has made every kept answer old at once): the read began after the version
 * was read, so it is no older than what any of them may be given.
 */
function answer<R>(memo: Memo<R>, key: string, version: string, read: () => Promise<R>): Promise<R> {
  const hit = memo.get(key);
  if (hit && hit.version === version) return hit.result;
  const result = read().then(deepFreeze);
  if (memo.size >= MEMO_ENTRIES) memo.clear();
  memo.set(key, { version, result });
  // A failed read is not kept: the next caller reads again.
  result.catch(() => {
    if (memo.get(key)?.result === result) memo.delete(key);
  });
  return result;
}

/** Freezes plain data (objects and arrays of values, never cycles), all the way down. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * A read made of several queries (and the objects built from them), kept as `memo` queries are:
 * while the version of the database it was read at holds, and never inside a transaction. The
 * result is frozen through and through, as every caller shares it.
 */
export function memoizedRead<A extends Arg[], R>(read: (q: Kysely<Database>, ...args: A) => Promise<R>) {
  const memo: Memo<R> = new Map();
  return (q: Kysely<Database>, ...args: A): Promise<R> => remembered(memo, q, args, () => read(q, ...args));
}
