// PostgreSQL: Kysely's parameterized queries sent as named statements, planned once per connection.
import { createHash } from 'node:crypto';
import type pg from 'pg';

const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;
const MAX_NAMED_PER_CONNECTION = 500;
const statementNames = new Map<string, string>();

/**
 * PostgreSQL plans a statement each time its text arrives; a named (prepared) statement is planned
 * once per connection and then only bound and run. Kysely sends `(text, values)`: the queries and
 * changes it sends that way go as named statements, named by their text's hash. A connection names
 * at most MAX_NAMED_PER_CONNECTION statements (the portal has far fewer shapes; text with values
 * written into it would otherwise grow without end).
 */
export function preparedOn(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (config: unknown, values?: unknown, ...rest: unknown[]) => unknown;
  const named = new Set<string>();
  // `rest`: the callback pg.Pool's own query() passes.
  (client as { query: unknown }).query = (config: unknown, values?: unknown, ...rest: unknown[]) => {
    if (typeof config !== 'string' || !Array.isArray(values) || !PREPARABLE.test(config)) return query(config, values, ...rest);
    let name = statementNames.get(config);
    if (!name) {
      name = `svm_${createHash('sha256').update(config).digest('hex').slice(0, 24)}`;
      if (statementNames.size >= 10_000) statementNames.clear();
      statementNames.set(config, name);
    }
    if (!named.has(name)) {
      if (named.size >= MAX_NAMED_PER_CONNECTION) return query(config, values, ...rest);
      named.add(name);
    }
    return query({ name, text: config, values }, ...rest);
  };
}
