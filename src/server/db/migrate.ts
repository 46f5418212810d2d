// Migrations live in code (db/migrations/<yyyymmddhhmm>-<name>.ts) and run in name order.
import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import * as initial from './migrations/202611260001-initial.js';
import * as apiKeys from './migrations/202611260002-api-keys.js';
import * as audit from './migrations/202611270001-audit.js';
import * as cloudIds from './migrations/202611270002-cloud-ids.js';
import * as oidc from './migrations/202611270003-oidc.js';
import * as listOrder from './migrations/202611270004-list-order.js';
import * as auditProject from './migrations/202612060001-audit-project.js';
import * as vmAccess from './migrations/202612060002-vm-access.js';
import * as resenvTickets from './migrations/202612060003-resenv-tickets.js';
import * as vmSetup from './migrations/202612060004-vm-setup.js';
import * as auditDetail from './migrations/202612070001-audit-detail.js';
import * as keyCache from './migrations/202612070002-key-cache.js';

const migrations: Record<string, Migration> = {
  '202611260001-initial': initial,
  '202611260002-api-keys': apiKeys,
  '202611270001-audit': audit,
  '202611270002-cloud-ids': cloudIds,
  '202611270003-oidc': oidc,
  '202611270004-list-order': listOrder,
  '202612060001-audit-project': auditProject,
  '202612060002-vm-access': vmAccess,
  '202612060003-resenv-tickets': resenvTickets,
  '202612060004-vm-setup': vmSetup,
  '202612070001-audit-detail': auditDetail,
  '202612070002-key-cache': keyCache,
};

class CodeMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}

export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new CodeMigrationProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
