// Using a VM (spec §9): users' public SSH keys; what a VM was given at creation (the keys'
// fingerprints, its research environment); images' login user (`default_user`).
import { type Kysely, PostgresAdapter, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  let t = db.schema.createTable('ssh_keys');
  t = pg ? t.addColumn('id', 'serial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
  await t
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('type', 'varchar(40)', (c) => c.notNull())
    .addColumn('public_key', 'varchar(8000)', (c) => c.notNull())
    .addColumn('fingerprint', 'varchar(100)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  // One key once per user (a duplicate is refused); the profile lists a user's keys.
  await db.schema.createIndex('ssh_keys_user_fingerprint').on('ssh_keys').columns(['user_id', 'fingerprint']).unique().execute();

  // As many fingerprints as the user data can carry keys (with member_access, a large project's).
  await db.schema.alterTable('vms').addColumn('ssh_keys', 'text', (c) => c.notNull().defaultTo('[]')).execute();
  await db.schema.alterTable('vms').addColumn('resenv_template', 'varchar(64)').execute();
  await db.schema.alterTable('vms').addColumn('resenv_user_path', 'varchar(255)').execute();
  await db.schema.alterTable('images').addColumn('default_user', 'varchar(64)').execute();
  // A VM's create carries its cloud-init user data (up to 64 KiB of script, the keys) to the worker,
  // which must be able to ask the cloud again after a crash. SQLite does not enforce varchar sizes.
  // The simulated cloud keeps the same user data with its server, as a real cloud would.
  if (pg) {
    await sql`alter table transitions alter column params type text`.execute(db);
    await sql`alter table sim_resources alter column data type text`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`alter table sim_resources alter column data type varchar(4000)`.execute(db);
    await sql`alter table transitions alter column params type varchar(2000)`.execute(db);
  }
  await db.schema.alterTable('images').dropColumn('default_user').execute();
  for (const column of ['resenv_user_path', 'resenv_template', 'ssh_keys']) await db.schema.alterTable('vms').dropColumn(column).execute();
  await db.schema.dropTable('ssh_keys').execute();
}
