import { type Kysely, sql } from 'kysely';

/**
 * Change notifications for the caches of running processes (issue 12; src/db/change-feed.ts): at
 * commit, every change of a client (`oidc_payloads` rows whose model is or was `Client`), of the
 * Terms of Use, of the resource servers (API scopes), of the signing keys (the producer API's key
 * cache) or of whom a grant acts for (`delegation_grants`) notifies `producer_idp_changes` with `schema table key`, whoever made it (a
 * replica, RFC 7591 registration, the CLI, psql). A keyed row notifies its old key and its new one
 * (an UPDATE may change the key); TRUNCATE notifies the whole table (`*`). Rows of other models do
 * not fire (the triggers' WHEN is checked first).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION notify_row_change() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      old_key text;
      new_key text;
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_key := to_jsonb(OLD) ->> TG_ARGV[0];
        PERFORM pg_notify('producer_idp_changes', TG_TABLE_SCHEMA || ' ' || TG_TABLE_NAME || ' ' || old_key);
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        new_key := to_jsonb(NEW) ->> TG_ARGV[0];
        IF new_key IS DISTINCT FROM old_key THEN
          PERFORM pg_notify('producer_idp_changes', TG_TABLE_SCHEMA || ' ' || TG_TABLE_NAME || ' ' || new_key);
        END IF;
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE FUNCTION notify_table_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('producer_idp_changes', TG_TABLE_SCHEMA || ' ' || TG_TABLE_NAME || ' *');
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER oidc_client_inserted AFTER INSERT ON oidc_payloads FOR EACH ROW WHEN (NEW.model = 'Client') EXECUTE FUNCTION notify_row_change('id')`.execute(db);
  await sql`CREATE TRIGGER oidc_client_updated AFTER UPDATE ON oidc_payloads FOR EACH ROW WHEN (OLD.model = 'Client' OR NEW.model = 'Client') EXECUTE FUNCTION notify_row_change('id')`.execute(db);
  await sql`CREATE TRIGGER oidc_client_deleted AFTER DELETE ON oidc_payloads FOR EACH ROW WHEN (OLD.model = 'Client') EXECUTE FUNCTION notify_row_change('id')`.execute(db);
  await sql`CREATE TRIGGER oidc_payloads_truncated AFTER TRUNCATE ON oidc_payloads FOR EACH STATEMENT EXECUTE FUNCTION notify_table_change()`.execute(db);
  await sql`CREATE TRIGGER terms_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON terms FOR EACH STATEMENT EXECUTE FUNCTION notify_table_change()`.execute(db);
  await sql`CREATE TRIGGER delegation_grants_changed AFTER INSERT OR UPDATE OR DELETE ON delegation_grants FOR EACH ROW EXECUTE FUNCTION notify_row_change('grant_id')`.execute(db);
  await sql`CREATE TRIGGER delegation_grants_truncated AFTER TRUNCATE ON delegation_grants FOR EACH STATEMENT EXECUTE FUNCTION notify_table_change()`.execute(db);
  await sql`CREATE TRIGGER resource_servers_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON resource_servers FOR EACH STATEMENT EXECUTE FUNCTION notify_table_change()`.execute(db);
  await sql`CREATE TRIGGER signing_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON signing_keys FOR EACH STATEMENT EXECUTE FUNCTION notify_table_change()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER signing_keys_changed ON signing_keys`.execute(db);
  await sql`DROP TRIGGER resource_servers_changed ON resource_servers`.execute(db);
  await sql`DROP TRIGGER delegation_grants_truncated ON delegation_grants`.execute(db);
  await sql`DROP TRIGGER delegation_grants_changed ON delegation_grants`.execute(db);
  await sql`DROP TRIGGER terms_changed ON terms`.execute(db);
  await sql`DROP TRIGGER oidc_payloads_truncated ON oidc_payloads`.execute(db);
  await sql`DROP TRIGGER oidc_client_deleted ON oidc_payloads`.execute(db);
  await sql`DROP TRIGGER oidc_client_updated ON oidc_payloads`.execute(db);
  await sql`DROP TRIGGER oidc_client_inserted ON oidc_payloads`.execute(db);
  await sql`DROP FUNCTION notify_table_change()`.execute(db);
  await sql`DROP FUNCTION notify_row_change()`.execute(db);
}
