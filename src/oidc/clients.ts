import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import type { Database } from '../db/schema.ts';
import { randomToken } from '../security/tokens.ts';

/** What an integrator gives to register a relying party (`clients add`). */
export interface ClientRegistration {
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  /** Public client (no secret; PKCE required; token_endpoint_auth_method `none`). */
  public?: boolean;
  /** First-party: no consent page. */
  firstParty?: boolean;
  /** Fixed client_id (default: random). */
  clientId?: string;
  /** Fixed secret (default: random 256-bit) for confidential clients. */
  clientSecret?: string;
}

/** Thrown when client metadata is invalid; `message` is oidc-provider's explanation. */
export class InvalidClientError extends Error {}

/**
 * Validates and stores a client (OIDC Dynamic Client Registration 1.0 §2 metadata) in the adapter's
 * `Client` model, replacing one with the same client_id. Redirect URIs are matched exactly by
 * oidc-provider. Validation is oidc-provider's own (`Client.validate`).
 * @returns the stored metadata (with `client_secret` unless public).
 * @throws InvalidClientError for invalid metadata (e.g. a redirect URI with a fragment).
 */
export async function registerClient(db: Kysely<Database>, provider: Provider, reg: ClientRegistration): Promise<Record<string, unknown>> {
  checkRegistration(reg);
  const metadata: Record<string, unknown> = {
    client_id: reg.clientId ?? randomToken(16),
    client_name: reg.name,
    redirect_uris: reg.redirectUris,
    post_logout_redirect_uris: reg.postLogoutRedirectUris ?? [],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: reg.public ? 'none' : 'client_secret_basic',
    first_party: reg.firstParty ?? false,
  };
  if (!reg.public) metadata.client_secret = reg.clientSecret ?? randomToken(32);
  try {
    await (provider.Client as unknown as { validate(m: unknown): Promise<void> }).validate(metadata);
  } catch (err) {
    const e = err as { error_description?: string; message: string };
    throw new InvalidClientError(e.error_description ?? e.message);
  }
  await db
    .insertInto('oidc_payloads')
    .values({ model: 'Client', id: String(metadata.client_id), payload: JSON.stringify(metadata), expires_at: null })
    .onConflict((oc) => oc.columns(['model', 'id']).doUpdateSet({ payload: JSON.stringify(metadata) }))
    .execute();
  return metadata;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Our rules on top of oidc-provider's (OAuth 2.0 Security BCP, RFC 9700 §2.1, §4.1): a name of 1 to
 * 100 characters; redirect URIs that are absolute, without a fragment or a wildcard, and https
 * unless they point at this machine (http://localhost, 127.0.0.1, [::1]) or use a private scheme of a
 * native app (`com.example.app:/cb`).
 * @throws InvalidClientError naming the offending value.
 */
function checkRegistration(reg: ClientRegistration): void {
  const name = reg.name.trim();
  if (!name || name.length > 100 || /\p{Cc}/u.test(name)) throw new InvalidClientError('client_name must have 1 to 100 characters and no control characters');
  for (const uri of [...reg.redirectUris, ...(reg.postLogoutRedirectUris ?? [])]) {
    let u: URL;
    try {
      u = new URL(uri);
    } catch {
      throw new InvalidClientError(`${uri} is not an absolute URI`);
    }
    if (uri.includes('*')) throw new InvalidClientError(`${uri}: wildcards are not allowed (redirect URIs are matched exactly)`);
    if (u.protocol === 'http:' && !LOOPBACK.has(u.hostname)) throw new InvalidClientError(`${uri}: http is allowed only for localhost; use https`);
  }
}

/** Every registered client's metadata, without secrets. */
export async function listClients(db: Kysely<Database>): Promise<Record<string, unknown>[]> {
  const rows = await db.selectFrom('oidc_payloads').select('payload').where('model', '=', 'Client').orderBy('id').execute();
  return rows.map((r) => {
    const { client_secret: _s, ...rest } = r.payload as Record<string, unknown>;
    return rest;
  });
}

/** Removes a client and every token issued to it. Returns false when no such client. */
export async function removeClient(db: Kysely<Database>, clientId: string): Promise<boolean> {
  const res = await db.deleteFrom('oidc_payloads').where('model', '=', 'Client').where('id', '=', clientId).executeTakeFirst();
  if (Number(res.numDeletedRows) === 0) return false;
  await db.deleteFrom('oidc_payloads').where('model', '!=', 'Client').where((eb) => eb(eb.fn('jsonb_extract_path_text', ['payload', eb.val('clientId')]), '=', clientId)).execute();
  return true;
}
