import { type Kysely, sql } from 'kysely';

/**
 * For integrators (issue 10):
 * - `resource_servers`: the APIs a client may ask tokens for (RFC 8707 resource indicators), with
 *   their scopes and access-token lifetime; read by the running IdP per request.
 * - client secrets of `client_secret_basic` / `client_secret_post` clients stored as
 *   `$sha256$<hex>` (src/oidc/client-auth.ts) instead of the secret itself.
 * - clients registered before ES256 became the default keep RS256-signed ID tokens
 *   (`id_token_signed_response_alg` written out), so no relying party breaks on upgrade.
 * - `registered_by: "cli"` on existing clients (`clients list` shows how each client came).
 * - `signing_keys.superseded_at`: when a key stopped signing (`keys rotate`; src/oidc/keys.ts).
 * - `backchannel_logouts`: logout tokens still to deliver (OpenID Connect Back-Channel Logout 1.0),
 *   written in the transaction that ends the sessions, delivered with retries by the server
 *   (src/oidc/backchannel.ts); a row is deleted once delivered or given up.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // Key rotation: a superseded key stops signing and stays published until it is retired.
  await db.schema.alterTable('signing_keys').addColumn('superseded_at', 'timestamptz').execute();
  await db.schema
    .createTable('backchannel_logouts')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('sid', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('locked_until', 'timestamptz')
    .addColumn('last_error', 'text')
    .execute();
  await db.schema.createIndex('backchannel_logouts_due').on('backchannel_logouts').column('next_attempt_at').execute();
  await db.schema
    .createTable('resource_servers')
    .addColumn('identifier', 'text', (c) => c.primaryKey())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('access_token_ttl', 'integer')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`
    UPDATE oidc_payloads
       SET payload = jsonb_set(payload, '{client_secret}',
             to_jsonb('$sha256$' || encode(sha256(convert_to(payload->>'client_secret', 'UTF8')), 'hex')))
     WHERE model = 'Client'
       AND payload ? 'client_secret'
       AND coalesce(payload->>'token_endpoint_auth_method', 'client_secret_basic') IN ('client_secret_basic', 'client_secret_post')
       AND payload->>'client_secret' NOT LIKE '$sha256$%'`.execute(db);
  await sql`
    UPDATE oidc_payloads
       SET payload = payload || '{"id_token_signed_response_alg": "RS256"}'::jsonb
     WHERE model = 'Client' AND NOT payload ? 'id_token_signed_response_alg'`.execute(db);
  await sql`
    UPDATE oidc_payloads
       SET payload = payload || '{"registered_by": "cli"}'::jsonb
     WHERE model = 'Client' AND NOT payload ? 'registered_by'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('backchannel_logouts').ifExists().execute();
  await db.schema.dropTable('resource_servers').ifExists().execute();
  await db.schema.alterTable('signing_keys').dropColumn('superseded_at').execute();
}
