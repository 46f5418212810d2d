// toAppError: a database that is busy or locked is unavailable for now (503, retry), never our failure (500).
import { describe, expect, it } from 'vitest';
import { toAppError } from './errors.js';

/** What better-sqlite3 throws: a SqliteError whose `code` is SQLite's extended result code name. */
function sqliteError(code: string): Error & { code: string } {
  return Object.assign(new Error(`${code}: database is locked`), { name: 'SqliteError', code });
}

describe('toAppError on SQLite busy and locked errors', () => {
  const codes = [
    'SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_RECOVERY', 'SQLITE_BUSY_TIMEOUT',
    'SQLITE_LOCKED', 'SQLITE_LOCKED_SHAREDCACHE', 'SQLITE_LOCKED_VTAB',
  ];
  it.each(codes)('%s is 503 unavailable', (code) => {
    const e = toAppError(sqliteError(code));
    expect(e.code).toBe('unavailable');
    expect(e.status).toBe(503);
  });

  it('leaves other SQLite errors alone', () => {
    expect(toAppError(sqliteError('SQLITE_CONSTRAINT_CHECK')).status).toBe(500);
    expect(toAppError(sqliteError('SQLITE_BUSYNESS')).status).toBe(500);
    expect(toAppError(sqliteError('SQLITE_IOERR')).status).toBe(500);
  });
});
