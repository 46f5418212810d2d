// Paginated lists read their page and their count in one statement; the count is bounded.
import { type Kysely, type SelectQueryBuilder, type Transaction, sql } from 'kysely';
import type { Database } from './types.js';

/**
 * A list's `count`: exact while at most this many objects match past the page's start; when more
 * match it is the page's start plus this many (a lower bound), so that `next` still leads on.
 * Counting every match of a superuser's list of 100,000 VMs would cost more than the page itself.
 */
export const COUNT_BOUND = 10_000;

/** How far the count of a page reads: COUNT_BOUND past the page's start (at least one past the page). */
export const countBoundOf = (page: number, pageSize: number): number => (page - 1) * pageSize + Math.max(COUNT_BOUND, pageSize + 1);

/**
 * `select count(*) from (<the list's matches> limit bound)`: the list's count, read no further than
 * `bound`; used as a column of the page's own statement (one round trip), or alone for a page past the end.
 */
// `any`: any list's matches; only the number of its rows is read.
export function boundedCount(q: Kysely<Database> | Transaction<Database>, matches: SelectQueryBuilder<Database, any, object>, bound: number) {
  return q.selectFrom(matches.select(sql<number>`1`.as('one')).limit(bound).as('matches')).select((eb) => eb.fn.countAll<number>().as('n'));
}

/** The total of a list when its page tells it (an empty first page, or a part-filled last page); else null. */
export function totalFromPage(rows: number, page: number, pageSize: number): number | null {
  if (rows > 0 && rows < pageSize) return (page - 1) * pageSize + rows;
  return rows === 0 && page === 1 ? 0 : null;
}

/** The count of a page read with a `total` column (boundedCount); a page with no rows counts apart. */
export async function countOfPage(rows: readonly { total: number | string | null }[], page: number, pageSize: number, countApart: () => Promise<number>): Promise<number> {
  if (rows.length > 0) return Number(rows[0].total);
  return totalFromPage(0, page, pageSize) ?? countApart();
}
