// Each audit event says what the bare action does not (spec §7): the `os_action` of an action, the
// name of what was created, a failure's error code. A small JSON object as text, or null; earlier
// events have none.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_events').addColumn('detail', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_events').dropColumn('detail').execute();
}
