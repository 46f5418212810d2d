// A VM's first boot (spec §10): the conda packages it installs, and the setup it reports back
// (state, exit code, the log's tail, the digest of its one-time token, when it became ACTIVE).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('vms').addColumn('conda_packages', 'text', (c) => c.notNull().defaultTo('[]')).execute();
  // Null: nothing runs at first boot. pending → running → done | failed.
  await db.schema.alterTable('vms').addColumn('setup_state', 'varchar(16)').execute();
  await db.schema.alterTable('vms').addColumn('setup_token_digest', 'varchar(64)').execute();
  await db.schema.alterTable('vms').addColumn('setup_updated_at', 'varchar(32)').execute();
  await db.schema.alterTable('vms').addColumn('setup_exit_code', 'integer').execute();
  await db.schema.alterTable('vms').addColumn('setup_log', 'text').execute();
  await db.schema.alterTable('vms').addColumn('active_at', 'varchar(32)').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const column of ['active_at', 'setup_log', 'setup_exit_code', 'setup_updated_at', 'setup_token_digest', 'setup_state', 'conda_packages']) {
    await db.schema.alterTable('vms').dropColumn(column).execute();
  }
}
