// The audit log (spec §7): one row per act, written in the same transaction as the act.
import type { Kysely } from 'kysely';
import { PostgresAdapter } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  let t = db.schema.createTable('audit_events');
  t = pg ? t.addColumn('id', 'serial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
  await t
    .addColumn('at', 'varchar(32)', (c) => c.notNull())
    .addColumn('actor_id', 'integer')
    .addColumn('actor', 'varchar(150)')
    .addColumn('key_prefix', 'varchar(8)')
    .addColumn('action', 'varchar(32)', (c) => c.notNull())
    .addColumn('object_type', 'varchar(16)')
    .addColumn('object_id', 'varchar(64)')
    // Whose object or key the act was done to, so that its owner sees it in their log.
    .addColumn('subject_id', 'integer')
    .addColumn('ip', 'varchar(64)')
    .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_actor_idx').on('audit_events').columns(['actor_id', 'id']).execute();
  await db.schema.createIndex('audit_subject_idx').on('audit_events').columns(['subject_id', 'id']).execute();
  await db.schema.createIndex('audit_action_idx').on('audit_events').columns(['action', 'id']).execute();

  // The addresses each key has been used from, for `key.new_ip`.
  await db.schema
    .createTable('api_key_ips')
    .addColumn('key_id', 'integer', (c) => c.notNull().references('api_keys.id').onDelete('cascade'))
    .addColumn('ip', 'varchar(64)', (c) => c.notNull())
    .addColumn('first_seen_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('api_key_ips_pk', ['key_id', 'ip'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('api_key_ips').ifExists().execute();
  await db.schema.dropTable('audit_events').ifExists().execute();
}
