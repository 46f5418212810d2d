// Kysely's SQLite dialect, with transactions that take the write lock when they begin.
import { CompiledQuery, type DatabaseConnection, type Driver, SqliteDialect, type SqliteDialectConfig, SqliteDriver, type TransactionSettings } from 'kysely';

/**
 * Kysely begins a SQLite transaction with a plain (deferred) BEGIN: it reads from a snapshot and
 * asks for the write lock only at its first write. When another process has committed in between
 * (several `serve` processes on one file), the snapshot is outdated and SQLite refuses the write at
 * once with SQLITE_BUSY_SNAPSHOT; and a transaction that already reads never waits for the lock
 * (busy_timeout is not consulted then), so it fails with SQLITE_BUSY too. BEGIN IMMEDIATE takes
 * the write lock first, waiting for it under busy_timeout, so a transaction reads only what no one
 * can change before it commits. Within one process this costs nothing: its single connection runs
 * one transaction at a time anyway. A transaction declared read-only never writes, so it keeps the
 * deferred BEGIN and does not hold other processes' writers back.
 *
 * BEGIN IMMEDIATE goes through the same connection as any statement, so the read cache's count of
 * statements that begin and end transactions (withStatementCache in statements.ts) sees it.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  // Kysely passes the settings to every driver; SqliteDriver's own signature leaves them out.
  override async beginTransaction(connection: DatabaseConnection, settings?: TransactionSettings): Promise<void> {
    if (settings?.accessMode === 'read only') return super.beginTransaction(connection);
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

export class ImmediateSqliteDialect extends SqliteDialect {
  // SqliteDialect keeps its config private: kept here too, for the driver made below.
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}
