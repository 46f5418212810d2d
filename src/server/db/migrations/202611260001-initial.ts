// The initial schema. Written with Kysely's schema builder in types both dialects accept;
// the only dialect difference is how an auto-incrementing id is declared.
import { type Kysely, PostgresAdapter } from 'kysely';

function idColumn(db: Kysely<any>) {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  return pg
    ? (t: any) => t.addColumn('id', 'serial', (c: any) => c.primaryKey())
    : (t: any) => t.addColumn('id', 'integer', (c: any) => c.primaryKey().autoIncrement());
}

export async function up(db: Kysely<any>): Promise<void> {
  const withId = idColumn(db);

  await withId(db.schema.createTable('users'))
    .addColumn('username', 'varchar(150)', (c: any) => c.notNull().unique())
    .addColumn('password_hash', 'varchar(255)', (c: any) => c.notNull())
    .addColumn('is_superuser', 'integer', (c: any) => c.notNull().defaultTo(0))
    .addColumn('is_active', 'integer', (c: any) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'varchar(32)', (c: any) => c.notNull())
    .execute();

  await withId(db.schema.createTable('projects'))
    .addColumn('name', 'varchar(150)', (c: any) => c.notNull().unique())
    .addColumn('description', 'varchar(1000)', (c: any) => c.notNull().defaultTo(''))
    .addColumn('quota_vms', 'integer', (c: any) => c.notNull())
    .addColumn('quota_cores', 'integer', (c: any) => c.notNull())
    .addColumn('quota_ram_gb', 'integer', (c: any) => c.notNull())
    .addColumn('quota_volumes', 'integer', (c: any) => c.notNull())
    .addColumn('quota_volume_gb', 'integer', (c: any) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c: any) => c.notNull())
    .execute();

  await db.schema
    .createTable('memberships')
    .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'varchar(16)', (c) => c.notNull())
    .addPrimaryKeyConstraint('memberships_pk', ['project_id', 'user_id'])
    .execute();
  await db.schema.createIndex('memberships_user_idx').on('memberships').columns(['user_id', 'project_id']).execute();

  await db.schema
    .createTable('flavors')
    .addColumn('name', 'varchar(100)', (c) => c.primaryKey())
    .addColumn('vcpus', 'integer', (c) => c.notNull())
    .addColumn('ram_gb', 'integer', (c) => c.notNull())
    .addColumn('disk_gb', 'integer', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('images')
    .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('tags', 'varchar(2000)', (c) => c.notNull().defaultTo('[]'))
    .execute();

  await db.schema
    .createTable('vms')
    .addColumn('openstack_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
    .addColumn('owner_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('image_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('flavor_name', 'varchar(100)', (c) => c.notNull())
    .addColumn('vcpus', 'integer', (c) => c.notNull())
    .addColumn('ram_gb', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(32)', (c) => c.notNull())
    .addColumn('task_state', 'varchar(32)')
    .addColumn('fixed_ip', 'varchar(64)')
    .addColumn('fault', 'varchar(1000)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('vms_project_idx').on('vms').columns(['project_id', 'created_at']).execute();
  await db.schema.createIndex('vms_owner_idx').on('vms').columns(['owner_id', 'created_at']).execute();

  await db.schema
    .createTable('volumes')
    .addColumn('openstack_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
    .addColumn('owner_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('storage', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(32)', (c) => c.notNull())
    .addColumn('attached_to', 'varchar(64)')
    .addColumn('device', 'varchar(64)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('volumes_project_idx').on('volumes').columns(['project_id', 'created_at']).execute();
  await db.schema.createIndex('volumes_owner_idx').on('volumes').columns(['owner_id', 'created_at']).execute();
  await db.schema.createIndex('volumes_attached_idx').on('volumes').column('attached_to').execute();

  await db.schema
    .createTable('snapshots')
    .addColumn('openstack_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'varchar(1000)', (c) => c.notNull().defaultTo(''))
    .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
    .addColumn('owner_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('vm_openstack_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('status', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('snapshots_project_idx').on('snapshots').columns(['project_id', 'name']).execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('csrf_token', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('transitions')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('object_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('object_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('action', 'varchar(32)', (c) => c.notNull())
    .addColumn('params', 'varchar(2000)', (c) => c.notNull().defaultTo('{}'))
    .addColumn('phase', 'varchar(8)', (c) => c.notNull())
    .addColumn('due_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('deadline_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('lease_owner', 'varchar(64)')
    .addColumn('lease_until', 'varchar(32)')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('transitions_due_idx').on('transitions').column('due_at').execute();
  // One transition in flight per object.
  await db.schema.createIndex('transitions_object_uq').on('transitions').columns(['object_type', 'object_id']).unique().execute();

  await db.schema
    .createTable('transition_history')
    .addColumn('transition_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('object_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('object_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('action', 'varchar(32)', (c) => c.notNull())
    .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
    .addColumn('finished_by', 'varchar(64)', (c) => c.notNull())
    .addColumn('finished_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('transition_history_object_idx').on('transition_history').columns(['object_type', 'object_id']).execute();

  await db.schema
    .createTable('sim_resources')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('status', 'varchar(32)', (c) => c.notNull())
    .addColumn('target_status', 'varchar(32)')
    .addColumn('ready_at', 'varchar(32)')
    .addColumn('data', 'varchar(4000)', (c) => c.notNull().defaultTo('{}'))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'sim_resources', 'transition_history', 'transitions', 'sessions', 'snapshots', 'volumes', 'vms',
    'images', 'flavors', 'memberships', 'projects', 'users',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
