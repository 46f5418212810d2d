// SQLite: each statement compiled once and reused, rows made by a compiled function, and the
// database's version (what the read cache keys its answers by).
import fs from 'node:fs';
import type SQLite from 'better-sqlite3';

/**
 * better-sqlite3 compiles a statement on every prepare(); Kysely prepares each query it runs. The
 * portal runs the same few dozen statements over and over, so each is compiled once and reused
 * (safe: better-sqlite3 runs a statement synchronously, never two at once). Rows are read as arrays
 * and made into objects by a function compiled once per statement from its column names: several
 * times cheaper than better-sqlite3 setting each row's properties one by one.
 *
 * `version()` changes whenever the database may have changed: at every statement that writes or
 * ends a transaction on this connection (counted here), and at every commit by another connection
 * or process (otherCommitsProbe, asked again once a request has arrived since; see requestArrived below).
 */
/** Databases opened in this process: each version is prefixed with its database's number. */
let opened = 0;

export function withStatementCache(sqlite: SQLite.Database) {
  const cache = new Map<string, ReturnType<typeof cached>>();
  // The read cache's memos are shared by every database of the process (tests run several
  // portals at once): versions of two databases must never be equal.
  const database = ++opened;
  let writes = 0;
  const wrote = () => {
    writes++;
  };
  const probe = otherCommitsProbe(sqlite);
  let otherCommits = 0;
  let arrivals = 0;
  let otherCommitsReadAt = -1;
  let forgetScheduled = false;
  return {
    close: () => {
      probe.close();
      sqlite.close();
    },
    /**
     * Called as each request arrives, before anything reads the database for it. Whether another
     * process has committed (see otherCommitsProbe) costs a system call to find out, so it is asked
     * at most once per request that arrived (and once per event-loop turn otherwise), not at every
     * query: whatever another process committed before a request arrived, that request sees; what
     * is committed while it runs, it may or may not see, as with any concurrent write.
     */
    requestArrived: () => {
      arrivals++;
    },
    prepare: (sql: string) => {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = cached(sqlite.prepare(sql), wrote);
        // Statements with values inlined (rare) could grow the cache without end.
        if (cache.size >= 1000) cache.clear();
        cache.set(sql, stmt);
      }
      // A schema change (a migration) may change what `select *` returns: compile afresh after one.
      if (!stmt.reader && /^\s*(create|alter|drop)\b/i.test(sql)) cache.clear();
      return stmt;
    },
    version: () => {
      if (otherCommitsReadAt !== arrivals) {
        otherCommits = probe.now();
        otherCommitsReadAt = arrivals;
        if (!forgetScheduled) {
          forgetScheduled = true;
          setImmediate(() => {
            otherCommitsReadAt = -1;
            forgetScheduled = false;
          });
        }
      }
      return `${database}.${writes}.${otherCommits}`;
    },
  };
}

/**
 * A number that changes whenever another connection or process has committed to the database.
 * SQLite's `PRAGMA data_version` tells, but under load it costs as much as a query (it takes the
 * WAL read lock). The WAL-index header (the first 48 bytes of the `-shm` file, documented at
 * https://sqlite.org/walformat.html) changes at every commit, as its change counter and frame count
 * do: reading it is one read from memory the kernel already holds, without a lock. A header caught
 * mid-write reads as changed, which only costs a read from the database. Without the file (not in
 * WAL mode yet, or in memory) the pragma answers; an in-memory database has no other connections.
 */
function otherCommitsProbe(sqlite: SQLite.Database): { now: () => number; close: () => void } {
  if (sqlite.memory) return { now: () => 0, close: () => {} };
  const dataVersion = sqlite.prepare('PRAGMA data_version').pluck();
  // The pragma's answers are kept apart from the header's (negative, and each only ever grows), so
  // that moving from one to the other can never give a number seen before.
  const byPragma = () => -1 - (dataVersion.get() as number);
  const shmPath = `${sqlite.name}-shm`;
  let fd: number | null = null;
  const header = Buffer.alloc(48);
  const seen = Buffer.alloc(48);
  let changes = 0;
  return {
    now: () => {
      if (fd === null) {
        const version = byPragma(); // this also has SQLite make the -shm file
        try {
          fd = fs.openSync(shmPath, 'r');
        } catch {
          return version;
        }
      }
      try {
        if (fs.readSync(fd, header, 0, 48, 0) !== 48) return byPragma();
      } catch {
        return byPragma();
      }
      if (!header.equals(seen)) {
        header.copy(seen);
        changes++;
      }
      return changes;
    },
    close: () => {
      if (fd !== null) fs.closeSync(fd);
      fd = null;
    },
  };
}

type Params = readonly unknown[];

/**
 * The calls Kysely's SQLite driver makes on a statement, with rows made by `rowMaker`. `wrote` is
 * told of every statement that may change what later reads see: all that Kysely runs with `run`
 * (writes, and BEGIN/COMMIT/ROLLBACK, which SQLite counts as read-only) and writes that return rows.
 */
function cached(stmt: SQLite.Statement, wrote: () => void) {
  const make = stmt.reader ? rowMaker(stmt.columns().map((c) => c.name)) : null;
  if (make) stmt.raw(true);
  const writes = !stmt.readonly;
  return {
    reader: stmt.reader,
    run: (params: Params) => {
      wrote();
      return stmt.run(params as unknown[]);
    },
    all: (params: Params): unknown[] => {
      if (writes) wrote();
      if (!make) return stmt.all(params as unknown[]);
      const rows = stmt.all(params as unknown[]) as unknown[][];
      const out = new Array<unknown>(rows.length);
      for (let i = 0; i < rows.length; i++) out[i] = make(rows[i]);
      return out;
    },
    *iterate(params: Params): IterableIterator<unknown> {
      if (writes) wrote();
      for (const row of stmt.iterate(params as unknown[])) yield make ? make(row as unknown[]) : row;
    },
  };
}

/**
 * An object literal per row, so every row of a statement shares one shape. As in better-sqlite3's
 * own rows, a later column of the same name wins. Names that are not plain data keys fall back to
 * building the object property by property.
 */
function rowMaker(names: string[]): ((row: unknown[]) => object) | null {
  if (names.some((n) => n === '__proto__')) return null;
  // The names are the statement's own columns, quoted by JSON.stringify
  return new Function('r', `return {${names.map((n, i) => `${JSON.stringify(n)}: r[${i}]`).join(', ')}};`) as (row: unknown[]) => object;
}
