import { type Kysely, sql } from 'kysely';

/**
 * Change notifications for the caches of running processes (issue 12; src/db/change-feed.ts): at
 * commit, a change of a client (`oidc_payloads` rows of model `Client`), of the Terms of Use, of the resource servers (API scopes) or of whom a grant acts for (`delegation_grants`, by grant id)
 * notifies `producer_idp_changes` with `schema table key`, whoever made it (a replica, RFC 7591
 * registration, the CLI). Rows of other models do not fire (the trigger's WHEN is checked first).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION notify_client_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('producer_idp_changes', TG_TABLE_SCHEMA || ' ' || TG_TABLE_NAME || ' ' || CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE FUNCTION notify_table_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('producer_idp_changes', TG_TABLE_SCHEMA || ' ' || TG_TABLE_NAME || ' *');
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER oidc_client_written AFTER INSERT OR UPDATE ON oidc_payloads FOR EACH ROW WHEN (NEW.model = 'Client') EXECUTE FUNCTION notify_client_change()`.execute(db);
  await sql`CREATE TRIGGER oidc_client_deleted AFTER DELETE ON oidc_payloads FOR EACH ROW WHEN (OLD.model = 'Client') EXECUTE FUNCTION notify_client_change()`.execute(db);
  await sql`CREATE TRIGGER terms_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON terms FOR EACH STATEMENT EXECUTE FUNCTION notify_table_change()`.execute(db);
  await sql`
    CREATE FUNCTION notify_grant_principal_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('producer_idp_changes', TG_TABLE_SCHEMA || ' ' || TG_TABLE_NAME || ' ' || CASE WHEN TG_OP = 'DELETE' THEN OLD.grant_id ELSE NEW.grant_id END);
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER delegation_grants_changed AFTER INSERT OR UPDATE OR DELETE ON delegation_grants FOR EACH ROW EXECUTE FUNCTION notify_grant_principal_change()`.execute(db);
  await sql`CREATE TRIGGER delegation_grants_truncated AFTER TRUNCATE ON delegation_grants FOR EACH STATEMENT EXECUTE FUNCTION notify_table_change()`.execute(db);
  await sql`CREATE TRIGGER resource_servers_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON resource_servers FOR EACH STATEMENT EXECUTE FUNCTION notify_table_change()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER resource_servers_changed ON resource_servers`.execute(db);
  await sql`DROP TRIGGER delegation_grants_truncated ON delegation_grants`.execute(db);
  await sql`DROP TRIGGER delegation_grants_changed ON delegation_grants`.execute(db);
  await sql`DROP FUNCTION notify_grant_principal_change()`.execute(db);
  await sql`DROP TRIGGER terms_changed ON terms`.execute(db);
  await sql`DROP TRIGGER oidc_client_deleted ON oidc_payloads`.execute(db);
  await sql`DROP TRIGGER oidc_client_written ON oidc_payloads`.execute(db);
  await sql`DROP FUNCTION notify_table_change()`.execute(db);
  await sql`DROP FUNCTION notify_client_change()`.execute(db);
}
