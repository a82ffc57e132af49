import type { Kysely } from 'kysely';

/**
 * Operations (issue 11): the request id on audit rows (so an audit event leads to its request's log
 * line), and an index on the time of audit rows for `audit list --since` and the retention purge.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_events').addColumn('request_id', 'text').execute();
  await db.schema.createIndex('audit_events_at_idx').on('audit_events').column('at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('audit_events_at_idx').execute();
  await db.schema.alterTable('audit_events').dropColumn('request_id').execute();
}
