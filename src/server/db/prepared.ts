// Queries built and compiled once, then run with new values: for the queries on the hot paths
// (key and session checks, showing and listing VMs), where Kysely's building and compiling of the
// SQL costs several times more than SQLite's running it. Those marked `memo` may answer from memory
// while the database is unchanged (see memoizeReads).
import type { CompiledQuery, Kysely, QueryResult, Transaction } from 'kysely';
import { type Arg, type Memo, remembered } from './read-cache.js';
import type { Database } from './types.js';

type Q = Kysely<Database> | Transaction<Database>;

interface Compilable<R> {
  compile(): CompiledQuery<R>;
}

interface Entry<R> {
  query: CompiledQuery<R>;
  slots: number[];
  /** Answers by arguments, each with the database version it was read at. */
  memo: Memo<QueryResult<R>>;
}

const placeholder = (i: number) => `\u0000prepared-arg-${i}\u0000`;

/**
 * Which parts a query of several shapes has: named flags (`{ superuser: true, status: false }`) and
 * small counts (`{ ids: 3 }`). The values the query filters by travel as its arguments.
 */
export type Shape<S = Record<string, boolean | number>> = { readonly [K in keyof S]: boolean | number };

/** A shape's name, its set flags and its counts (`+superuser+status`, `+ids=3`): the key of its compiled query. */
export function shapeName(shape: object): string {
  let name = '';
  for (const k in shape) {
    const v = (shape as Record<string, unknown>)[k];
    if (v === true) name += `+${k}`;
    else if (typeof v === 'number') name += `+${k}=${v}`;
  }
  return name;
}

/**
 * A query whose SQL depends only on its `shape` and whose values are `args`. `build` runs once per
 * dialect and shape with placeholder arguments; each placeholder found among the compiled
 * parameters is then replaced by the real argument. `build` may branch on the shape, never on the
 * arguments' values.
 */
export function preparedShapes<S extends Shape<S>, A extends Arg[], R>(build: (q: Q, shape: S, ...args: A) => Compilable<R>, opts: { memo?: boolean } = {}) {
  // The compiled SQL depends only on the dialect: one compilation serves a database and its transactions.
  const byAdapter = new WeakMap<object, Map<string, Entry<R>>>();
  return (q: Q, shape: S, ...args: A): Promise<QueryResult<R>> => {
    const adapter = q.getExecutor().adapter;
    let shapes = byAdapter.get(adapter);
    if (!shapes) byAdapter.set(adapter, (shapes = new Map()));
    const name = shapeName(shape);
    let entry = shapes.get(name);
    if (!entry) {
      const placeholders = args.map((_, i) => placeholder(i)) as A;
      const query = build(q, shape, ...placeholders).compile();
      entry = { query, slots: query.parameters.map((p) => (placeholders as Arg[]).indexOf(p as Arg)), memo: new Map() };
      shapes.set(name, entry);
    }
    const { query, slots, memo } = entry;
    const run = () => q.executeQuery<R>({ ...query, parameters: query.parameters.map((p, i) => (slots[i] >= 0 ? args[slots[i]] : p)) });
    return opts.memo ? remembered(memo, q, args, run) : run();
  };
}

const ONE_SHAPE: Shape = Object.freeze({});

/** A query of one shape: see preparedShapes. */
export function prepared<A extends Arg[], R>(build: (q: Q, ...args: A) => Compilable<R>, opts: { memo?: boolean } = {}) {
  const run = preparedShapes<Shape, A, R>((q, _shape, ...args) => build(q, ...args), opts);
  return (q: Q, ...args: A): Promise<QueryResult<R>> => run(q, ONE_SHAPE, ...args);
}
