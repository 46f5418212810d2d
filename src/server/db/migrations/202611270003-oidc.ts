// Single sign-on (OpenID Connect): who each provider identity is in the portal, the user's e-mail
// as the provider reports it, and the ID token a session was made from (the hint that the
// provider's end-session endpoint asks for at logout).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('oidc_identities')
    // `sub` is unique and stable only within its issuer, so the pair names the identity.
    .addColumn('issuer', 'varchar(500)', (c) => c.notNull())
    .addColumn('subject', 'varchar(255)', (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('last_login_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('oidc_identities_pk', ['issuer', 'subject'])
    .execute();
  await db.schema.createIndex('oidc_identities_user_idx').on('oidc_identities').column('user_id').execute();
  await db.schema.alterTable('users').addColumn('email', 'varchar(254)').execute();
  await db.schema.alterTable('sessions').addColumn('oidc_id_token', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('oidc_id_token').execute();
  await db.schema.alterTable('users').dropColumn('email').execute();
  await db.schema.dropTable('oidc_identities').ifExists().execute();
}
