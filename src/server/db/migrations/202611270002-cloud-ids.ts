// The OpenStack provider's map from the portal's id of an object (the `openstack_id` the API shows,
// chosen before the cloud is asked) to the id the cloud gave it. A row with no cloud id and a
// fault records that the cloud refused to create the object.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('cloud_ids')
    .addColumn('portal_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('cloud_id', 'varchar(64)')
    .addColumn('fault', 'varchar(1000)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  // Cinder names the server a volume is attached to by the cloud's id: found back through this.
  await db.schema.createIndex('cloud_ids_cloud_idx').on('cloud_ids').columns(['kind', 'cloud_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('cloud_ids').ifExists().execute();
}
