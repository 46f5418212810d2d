// Research environments on a host of their own (SIMPLEVM_RESENV_URL, spec §9): the one-time tickets
// that carry a portal session over to the environments' host, and the grants that host's cookie
// stands for. Both hold only the SHA-256 digest of their token; a grant ends with its session.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('resenv_tickets')
    .addColumn('digest', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('session_id', 'varchar(64)', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('vm_openstack_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('used_at', 'varchar(32)')
    .execute();
  await db.schema.createIndex('resenv_tickets_session_idx').on('resenv_tickets').column('session_id').execute();

  await db.schema
    .createTable('resenv_grants')
    .addColumn('digest', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('session_id', 'varchar(64)', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('vm_openstack_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  // Logging out deletes the session, and with it (cascade) its grants.
  await db.schema.createIndex('resenv_grants_session_idx').on('resenv_grants').column('session_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('resenv_grants').execute();
  await db.schema.dropTable('resenv_tickets').execute();
}
