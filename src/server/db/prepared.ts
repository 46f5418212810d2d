// Queries built and compiled once, then run with new values: for the queries on the hot paths
// (key and session checks, showing and listing VMs), where Kysely's building and compiling of the
// SQL costs several times more than SQLite's running it. Those marked `memo` may answer from memory
// while the database is unchanged (see memoizeReads).
import type { CompiledQuery, Kysely, QueryResult, Transaction } from 'kysely';
import type { Database } from './types.js';

type Q = Kysely<Database> | Transaction<Database>;
type Arg = string | number | null;

interface Compilable<R> {
  compile(): CompiledQuery<R>;
}

interface Entry<R> {
  query: CompiledQuery<R>;
  slots: number[];
  /** Answers by arguments, each with the database version it was read at. */
  memo: Memo<QueryResult<R>>;
}

/** The databases whose reads may be memoized, by their Kysely adapter: each gives its version. */
const versions = new WeakMap<object, () => string>();

/**
 * Lets the `memo` queries of this database answer from memory. `version` must change whenever what
 * a read returns may have changed (any write, any transaction's end, any other connection's commit).
 *
 * Why this is safe: an answer is kept with the version read before its query ran, and is given only
 * while the version is still the same, so only while nothing can have changed since. Reads inside a
 * transaction neither keep nor take answers (they may see, or must see, uncommitted writes). Rows
 * are frozen, as every caller shares them. Only for SQLite: PostgreSQL has other clients this
 * process cannot see the writes of. A query marked `memo` must depend on nothing but the database
 * and its arguments: never on the clock (pass the time as an argument, or judge it in code, as the
 * key check does with `expires_at`).
 */
export function memoizeReads(db: Kysely<Database>, version: () => string): void {
  versions.set(db.getExecutor().adapter, version);
}

const MEMO_ENTRIES = 1000;

function memoKey(args: readonly Arg[]): string {
  let key = '';
  for (const a of args) key += a === null ? '\u0001' : typeof a === 'number' ? `\u0002${a}` : `\u0003${a}`;
  return key;
}

type Memo<R> = Map<string, { version: string; result: R }>;

/**
 * `read()`, or its answer kept in `memo` while the database's version holds (see memoizeReads).
 * What is kept is frozen all the way down, as every caller shares it.
 */
function remembered<R>(memo: Memo<R>, q: Q, args: readonly Arg[], read: () => Promise<R>): Promise<R> {
  const versionOf = q.isTransaction ? undefined : versions.get(q.getExecutor().adapter);
  if (!versionOf) return read();
  const version = versionOf();
  const key = memoKey(args);
  const hit = memo.get(key);
  if (hit && hit.version === version) return Promise.resolve(hit.result);
  return read().then((result) => {
    if (memo.size >= MEMO_ENTRIES) memo.clear();
    memo.set(key, { version, result: deepFreeze(result) });
    return result;
  });
}

/** Freezes plain data (objects and arrays of values, never cycles), all the way down. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const placeholder = (i: number) => `\u0000prepared-arg-${i}\u0000`;

/**
 * A query whose shape depends only on `variant` (a short string naming which filters apply) and
 * whose values are `args`. `build` runs once per dialect and variant with placeholder arguments;
 * each placeholder found among the compiled parameters is then replaced by the real argument.
 * `build` may branch on the variant, never on the arguments' values.
 */
export function preparedVariants<A extends Arg[], R>(build: (q: Q, variant: string, ...args: A) => Compilable<R>, opts: { memo?: boolean } = {}) {
  // The compiled SQL depends only on the dialect: one compilation serves a database and its transactions.
  const byAdapter = new WeakMap<object, Map<string, Entry<R>>>();
  return (q: Q, variant: string, ...args: A): Promise<QueryResult<R>> => {
    const adapter = q.getExecutor().adapter;
    let variants = byAdapter.get(adapter);
    if (!variants) byAdapter.set(adapter, (variants = new Map()));
    let entry = variants.get(variant);
    if (!entry) {
      const placeholders = args.map((_, i) => placeholder(i)) as A;
      const query = build(q, variant, ...placeholders).compile();
      entry = { query, slots: query.parameters.map((p) => (placeholders as Arg[]).indexOf(p as Arg)), memo: new Map() };
      variants.set(variant, entry);
    }
    const { query, slots, memo } = entry;
    const run = () => q.executeQuery<R>({ ...query, parameters: query.parameters.map((p, i) => (slots[i] >= 0 ? args[slots[i]] : p)) });
    return opts.memo ? remembered(memo, q, args, run) : run();
  };
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

/** A query of one shape: see preparedVariants. */
export function prepared<A extends Arg[], R>(build: (q: Q, ...args: A) => Compilable<R>, opts: { memo?: boolean } = {}) {
  const run = preparedVariants<A, R>((q, _variant, ...args) => build(q, ...args), opts);
  return (q: Q, ...args: A): Promise<QueryResult<R>> => run(q, '', ...args);
}
