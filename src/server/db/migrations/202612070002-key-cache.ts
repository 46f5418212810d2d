// The key cache across instances (PostgreSQL; see db/postgres/key-feed.ts). Every write that can
// change what a key check answers (a key deleted, shortened or rescoped; a user deactivated,
// promoted, demoted or renamed; a membership changed) says so by NOTIFY from a trigger, in the
// writer's own transaction: whoever writes (the server, the `simplevm` admin commands, SQL by
// hand), the instances hear it at the commit. Each live instance has a heartbeat row and
// acknowledges barriers, so that a revocation can wait until every instance has dropped the key.
// The tables exist on SQLite too (one schema for both databases) and stay empty there.
import { type Kysely, PostgresAdapter, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('portal_instances')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    // Milliseconds since the epoch, by the database's clock: the instance is live until then.
    .addColumn('lease_until', 'bigint', (c) => c.notNull())
    // 1 while the instance answers key checks from memory (it must then acknowledge every barrier).
    .addColumn('caching', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('key_cache_acks')
    .addColumn('barrier', 'bigint', (c) => c.notNull())
    .addColumn('instance_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('acked_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('key_cache_acks_pk', ['barrier', 'instance_id'])
    .execute();
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`create sequence simplevm_key_barriers`.execute(db);
  // The user whose key checks may answer differently now, for the row before and after the change
  // (identical payloads in one transaction arrive once). TG_ARGV[0] names the user's column.
  await sql`
    create function simplevm_key_changed() returns trigger language plpgsql as $$
    begin
      if tg_op <> 'INSERT' then perform pg_notify('simplevm_keys', 'u:' || (to_jsonb(old) ->> tg_argv[0])); end if;
      if tg_op <> 'DELETE' then perform pg_notify('simplevm_keys', 'u:' || (to_jsonb(new) ->> tg_argv[0])); end if;
      return null;
    end $$`.execute(db);
  // Not last_used_at: it changes once a minute per key in use and answers nothing.
  await sql`
    create trigger api_keys_key_changed after update of deleted_at, expires_at, scopes, own_objects_only, project_id, user_id, digest, prefix or delete
    on api_keys for each row execute function simplevm_key_changed('user_id')`.execute(db);
  // A single sign-on login rewrites is_superuser as the provider has it: only a real change counts.
  await sql`
    create trigger users_key_changed after update of is_active, is_superuser, username on users for each row
    when (old.is_active is distinct from new.is_active or old.is_superuser is distinct from new.is_superuser or old.username is distinct from new.username)
    execute function simplevm_key_changed('id')`.execute(db);
  await sql`create trigger users_key_deleted after delete on users for each row execute function simplevm_key_changed('id')`.execute(db);
  await sql`
    create trigger memberships_key_changed after insert or update or delete on memberships
    for each row execute function simplevm_key_changed('user_id')`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`drop trigger memberships_key_changed on memberships`.execute(db);
    await sql`drop trigger users_key_deleted on users`.execute(db);
    await sql`drop trigger users_key_changed on users`.execute(db);
    await sql`drop trigger api_keys_key_changed on api_keys`.execute(db);
    await sql`drop function simplevm_key_changed()`.execute(db);
    await sql`drop sequence simplevm_key_barriers`.execute(db);
  }
  await db.schema.dropTable('key_cache_acks').execute();
  await db.schema.dropTable('portal_instances').execute();
}
