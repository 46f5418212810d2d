// Lists are newest first: an index on created_at lets a superuser's list (no owner or project to
// narrow by) read its page in order instead of sorting every row.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('vms_created_idx').on('vms').column('created_at').execute();
  await db.schema.createIndex('volumes_created_idx').on('volumes').column('created_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('volumes_created_idx').ifExists().execute();
  await db.schema.dropIndex('vms_created_idx').ifExists().execute();
}
