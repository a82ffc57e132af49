import { sql, type Kysely } from 'kysely';

/**
 * Delegates (issue 14 items 1-5).
 * - `accounts` may now belong to a delegate: `kind` (`producer` | `delegate`); a delegate's account
 *   has no producer record of its own (`producer_number` null) and carries the person's own
 *   `first_name`, `last_name` and `email` (the invited address, confirmed by the invitation link).
 * - `delegations`: a producer's invitation of a person, with the permissions chosen; the delegate's
 *   account is set when the invitation is accepted. Status `invited`, `active` or `removed`.
 * - `single_use_links.delegation_id`: invitation links (purpose `delegate_invite`) name their
 *   delegation (a resend voids only that delegation's older link).
 * - `delegation_grants`: for which producer an oidc-provider Grant acts (`delegation_id`, null:
 *   the person for themselves), read when tokens and claims are issued and when a delegation ends.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('accounts')
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('producer').check(sql`kind in ('producer','delegate')`))
    .addColumn('first_name', 'text')
    .addColumn('last_name', 'text')
    .addColumn('email', 'text')
    .execute();
  await sql`ALTER TABLE accounts ALTER COLUMN producer_number DROP NOT NULL`.execute(db);
  await sql`ALTER TABLE accounts ADD CONSTRAINT accounts_kind_shape CHECK (
    (kind = 'producer' AND producer_number IS NOT NULL) OR
    (kind = 'delegate' AND producer_number IS NULL AND first_name IS NOT NULL AND last_name IS NOT NULL AND email IS NOT NULL))`.execute(db);

  await db.schema
    .createTable('delegations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('producer_number', 'char(9)', (c) => c.notNull().references('producer_records.producer_number'))
    .addColumn('producer_account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('delegate_account_id', 'text', (c) => c.references('accounts.id').onDelete('cascade'))
    .addColumn('first_name', 'text', (c) => c.notNull())
    .addColumn('last_name', 'text', (c) => c.notNull())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('permissions', sql`text[]`, (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('invited','active','removed')`))
    .addColumn('invited_at', 'timestamptz', (c) => c.notNull())
    .addColumn('accepted_at', 'timestamptz')
    .addColumn('removed_at', 'timestamptz')
    .addColumn('last_active_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('delegations_producer').on('delegations').columns(['producer_number', 'status']).execute();
  await db.schema.createIndex('delegations_delegate').on('delegations').columns(['delegate_account_id', 'status']).execute();
  // One live delegation per producer and person.
  await sql`CREATE UNIQUE INDEX delegations_one_live ON delegations (producer_number, delegate_account_id) WHERE status <> 'removed' AND delegate_account_id IS NOT NULL`.execute(db);

  await db.schema.alterTable('single_use_links').addColumn('delegation_id', 'text', (c) => c.references('delegations.id').onDelete('cascade')).execute();
  await db.schema.createIndex('single_use_links_delegation').on('single_use_links').column('delegation_id').execute();

  await db.schema
    .createTable('delegation_grants')
    .addColumn('grant_id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('delegation_id', 'text', (c) => c.references('delegations.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('delegation_grants_delegation').on('delegation_grants').column('delegation_id').execute();
  await db.schema.createIndex('delegation_grants_expires').on('delegation_grants').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('delegation_grants').execute();
  await db.schema.alterTable('single_use_links').dropColumn('delegation_id').execute();
  await sql`DELETE FROM single_use_links WHERE purpose = 'delegate_invite'`.execute(db);
  await db.schema.dropTable('delegations').execute();
  await sql`DELETE FROM accounts WHERE kind = 'delegate'`.execute(db);
  await sql`ALTER TABLE accounts DROP CONSTRAINT accounts_kind_shape`.execute(db);
  await sql`ALTER TABLE accounts ALTER COLUMN producer_number SET NOT NULL`.execute(db);
  await db.schema.alterTable('accounts').dropColumn('kind').dropColumn('first_name').dropColumn('last_name').dropColumn('email').execute();
}
