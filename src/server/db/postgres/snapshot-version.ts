// PostgreSQL's version for the read cache (db/read-cache.ts): the snapshot a statement sees now.
//
// A snapshot (`xmin:xmax:xip…`) names exactly which transactions' writes are visible: any write
// transaction that begins anywhere (it takes a transaction id: xmax moves) or ends (it leaves the
// in-progress list) changes it, whichever instance or client made it. Two equal snapshots therefore
// see the same data, and an answer read after a snapshot was taken is exact for as long as the
// snapshot stays the same. Asking costs one small round trip instead of the query it spares.
import type pg from 'pg';

const SNAPSHOT = 'select pg_current_snapshot()::text as s';

/**
 * The current snapshot, asked once for every caller that asks before the question is sent (the
 * callers of one turn of the event loop): each of them asked before it was sent, so it is no older
 * than any of them.
 */
export function snapshotVersion(pool: Pick<pg.Pool, 'query'>): () => Promise<string> {
  let next: Promise<string> | null = null;
  return () => {
    if (next) return next;
    const asked = new Promise<string>((resolve, reject) => {
      setImmediate(() => {
        // From here on a caller needs a question sent after it asked.
        next = null;
        pool.query<{ s: string }>(SNAPSHOT).then((r) => resolve(r.rows[0].s), reject);
      });
    });
    next = asked;
    return asked;
  };
}
