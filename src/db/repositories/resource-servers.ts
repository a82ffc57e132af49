import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../schema.ts';

/**
 * A row of `resource_servers` (RFC 8707 resource indicators; src/oidc/resources.ts checks and
 * presents them): `identifier` (absolute URI), `scope` (space-separated), `access_token_ttl`
 * (seconds, null: the default), `created_at`.
 */
export type ResourceServerRow = Selectable<Database['resource_servers']>;

/**
 * Registers a resource server, or replaces the scope and lifetime of the one with this identifier.
 * @param scope space-separated scopes; @param ttl access-token lifetime in seconds, null: the default.
 * @returns the stored row.
 */
export async function upsertResourceServer(db: Kysely<Database>, identifier: string, scope: string, ttl: number | null): Promise<ResourceServerRow> {
  return db
    .insertInto('resource_servers')
    .values({ identifier, scope, access_token_ttl: ttl })
    .onConflict((oc) => oc.column('identifier').doUpdateSet({ scope, access_token_ttl: ttl }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Every resource server row, by identifier. */
export async function resourceServerRows(db: Kysely<Database>): Promise<ResourceServerRow[]> {
  return db.selectFrom('resource_servers').selectAll().orderBy('identifier').execute();
}

/** Deletes a resource server. @returns false when there was none with this identifier. */
export async function deleteResourceServer(db: Kysely<Database>, identifier: string): Promise<boolean> {
  const res = await db.deleteFrom('resource_servers').where('identifier', '=', identifier).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/** The resource server row with this identifier, or undefined. */
export async function resourceServerRow(db: Kysely<Database>, identifier: string): Promise<ResourceServerRow | undefined> {
  return db.selectFrom('resource_servers').selectAll().where('identifier', '=', identifier).executeTakeFirst();
}

/** The `scope` value (space-separated) of every resource server, in no particular order. */
export async function resourceServerScopes(db: Kysely<Database>): Promise<string[]> {
  const rows = await db.selectFrom('resource_servers').select('scope').execute();
  return rows.map((r) => r.scope);
}
