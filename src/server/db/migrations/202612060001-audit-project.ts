// Audit events remember the project they concern, so that a key bound to one project sees only
// that project's events (issue 16). Events of earlier acts get it from the object they name.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_events').addColumn('project_id', 'integer').execute();
  for (const [type, table] of [['vm', 'vms'], ['volume', 'volumes'], ['snapshot', 'snapshots']] as const) {
    await sql`update audit_events set project_id = (select o.project_id from ${sql.table(table)} o where o.openstack_id = audit_events.object_id)
      where object_type = ${type}`.execute(db);
  }
  await sql`update audit_events set project_id = (select k.project_id from api_keys k where cast(k.id as text) = audit_events.object_id)
    where object_type = 'api_key'`.execute(db);
  await db.schema.createIndex('audit_events_project_idx').on('audit_events').columns(['project_id', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('audit_events_project_idx').ifExists().execute();
  await db.schema.alterTable('audit_events').dropColumn('project_id').execute();
}
