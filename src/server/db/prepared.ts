// Queries built and compiled once, then run with new values: for the queries on the hot paths
// (key and session checks, showing and listing VMs), where Kysely's building and compiling of the
// SQL costs several times more than SQLite's running it.
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
}

const placeholder = (i: number) => `\u0000prepared-arg-${i}\u0000`;

/**
 * A query whose shape depends only on `variant` (a short string naming which filters apply) and
 * whose values are `args`. `build` runs once per dialect and variant with placeholder arguments;
 * each placeholder found among the compiled parameters is then replaced by the real argument.
 * `build` may branch on the variant, never on the arguments' values.
 */
export function preparedVariants<A extends Arg[], R>(build: (q: Q, variant: string, ...args: A) => Compilable<R>) {
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
      entry = { query, slots: query.parameters.map((p) => (placeholders as Arg[]).indexOf(p as Arg)) };
      variants.set(variant, entry);
    }
    const { query, slots } = entry;
    return q.executeQuery<R>({ ...query, parameters: query.parameters.map((p, i) => (slots[i] >= 0 ? args[slots[i]] : p)) });
  };
}

/** A query of one shape: see preparedVariants. */
export function prepared<A extends Arg[], R>(build: (q: Q, ...args: A) => Compilable<R>) {
  const run = preparedVariants<A, R>((q, _variant, ...args) => build(q, ...args));
  return (q: Q, ...args: A): Promise<QueryResult<R>> => run(q, '', ...args);
}
