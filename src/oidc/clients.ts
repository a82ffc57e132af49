import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import { clientPayloads, deleteClientAndTokens, payloadOf, replaceClientPayload, saveClientPayload, setClientFirstPartyFlag } from '../db/repositories/oidc-payloads.ts';
import type { Database } from '../db/schema.ts';
import { randomId, randomToken } from '../security/tokens.ts';
import { withHashedSecret } from './client-auth.ts';
import { refreshScopes } from './resources.ts';

/** Token endpoint authentication methods `clients add` can register (see CLIENT_AUTH_METHODS). */
export const REGISTRABLE_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
export type RegistrableAuthMethod = (typeof REGISTRABLE_AUTH_METHODS)[number];

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
  /**
   * `authorization_code` (default: sign-in with the code flow, plus refresh tokens) or
   * `client_credentials` (machine-to-machine, RFC 6749 §4.4: no redirect URIs, API scopes only).
   */
  grant?: 'authorization_code' | 'client_credentials';
  /** Space-separated scopes the client may ask for (client_credentials: the API scopes; never `openid`). */
  scope?: string;
  /** How the client authenticates at the token endpoint (default client_secret_basic; `public` means `none`). */
  tokenEndpointAuthMethod?: RegistrableAuthMethod;
  /** private_key_jwt: the client's public keys (JWK Set) or where to fetch them. */
  jwks?: { keys: Record<string, unknown>[] };
  jwksUri?: string;
  /** OpenID Connect Back-Channel Logout 1.0 §2.2: where logout tokens are POSTed. */
  backchannelLogoutUri?: string;
  /** ID token signing algorithm (default ES256). */
  idTokenSignedResponseAlg?: 'ES256' | 'RS256';
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
  const machine = reg.grant === 'client_credentials';
  const method = reg.public ? 'none' : (reg.tokenEndpointAuthMethod ?? 'client_secret_basic');
  const metadata: Record<string, unknown> = {
    client_id: reg.clientId ?? randomId(16),
    client_name: reg.name,
    redirect_uris: machine ? [] : reg.redirectUris,
    post_logout_redirect_uris: machine ? [] : (reg.postLogoutRedirectUris ?? []),
    grant_types: machine ? ['client_credentials'] : ['authorization_code', 'refresh_token'],
    response_types: machine ? [] : ['code'],
    token_endpoint_auth_method: method,
    id_token_signed_response_alg: reg.idTokenSignedResponseAlg ?? 'ES256',
    first_party: reg.firstParty ?? false,
    registered_by: 'cli',
  };
  if (reg.scope !== undefined) metadata.scope = reg.scope;
  if (reg.backchannelLogoutUri !== undefined) {
    metadata.backchannel_logout_uri = reg.backchannelLogoutUri;
    metadata.backchannel_logout_session_required = true;
  }
  if (reg.jwks) metadata.jwks = reg.jwks;
  if (reg.jwksUri) metadata.jwks_uri = reg.jwksUri;
  if (method === 'client_secret_basic' || method === 'client_secret_post') metadata.client_secret = reg.clientSecret ?? randomToken(32);
  await refreshScopes(provider); // API scopes of resources added since the provider started
  try {
    await (provider.Client as unknown as { validate(m: unknown): Promise<void> }).validate(metadata);
  } catch (err) {
    const e = err as { error_description?: string; message: string };
    throw new InvalidClientError(e.error_description ?? e.message);
  }
  await saveClientPayload(db, String(metadata.client_id), withHashedSecret(metadata));
  return metadata;
}

/** Hosts that http:// may name: this machine (RFC 8252 §7.3 loopback; `localhost` for development). */
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Schemes that are never a redirect target (they run code or carry content, not a client). */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:', 'filesystem:', 'ftp:', 'ws:', 'wss:', 'mailto:', 'tel:', 'urn:']);

/** Longest URI accepted, characters. */
const MAX_URI_LENGTH = 2000;

/**
 * Why a registered URI (redirect_uri or post_logout_redirect_uri) is refused, or null when it is
 * accepted. The URI is parsed with the WHATWG URL parser (the one browsers use) and must be written
 * exactly as that parser writes it back, so that the string oidc-provider compares (exactly,
 * RFC 9700 §4.1.3) is the address the browser goes to. Refused (RFC 9700 §2.1, §4.1, §4.11;
 * RFC 6749 §3.1.2; RFC 8252 §7):
 * - not absolute, longer than 2000 characters, whitespace, control characters or backslashes;
 * - a fragment (`#`, RFC 6749 §3.1.2) or a wildcard (`*`);
 * - userinfo (`https://user:pass@host/`);
 * - schemes that are not a client: javascript:, data:, vbscript:, file:, blob:, about:, ws(s):, …;
 * - http:// except for loopback hosts (localhost, 127.0.0.1, [::1]: native apps and development);
 * - a private-use scheme (native app) that is not a reverse domain name with a period
 *   (`com.example.app:/cb`, RFC 8252 §7.1);
 * - a form the parser rewrites (`https://Example.COM/a/../cb` → `https://example.com/cb`): the
 *   message gives the form to register instead.
 * @returns a sentence naming the URI and the rule, or null.
 */
export function redirectUriProblem(uri: string): string | null {
  if (typeof uri !== 'string' || uri.length === 0) return 'a redirect URI must not be empty';
  if (uri.length > MAX_URI_LENGTH) return `${uri.slice(0, 60)}…: a redirect URI has at most ${MAX_URI_LENGTH} characters`;
  if (/[\s\p{Cc}\\]/u.test(uri)) return `${JSON.stringify(uri)}: whitespace, control characters and backslashes are not allowed`;
  if (uri.includes('#')) return `${uri}: a fragment (#) is not allowed (RFC 6749 §3.1.2)`;
  if (uri.includes('*')) return `${uri}: wildcards are not allowed (redirect URIs are matched exactly, RFC 9700 §4.1.3)`;
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return `${uri} is not an absolute URI`;
  }
  const scheme = u.protocol;
  if (FORBIDDEN_SCHEMES.has(scheme)) return `${uri}: the ${scheme} scheme is not allowed`;
  if (u.username || u.password || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(uri)) return `${uri}: user information (user:password@) is not allowed`;
  if (scheme === 'https:' || scheme === 'http:') {
    if (!u.hostname) return `${uri}: a host is required`;
    if (scheme === 'http:' && !LOOPBACK.has(u.hostname)) return `${uri}: http is allowed only for this machine (localhost, 127.0.0.1, [::1]); use https`;
  } else if (!scheme.slice(0, -1).includes('.')) {
    return `${uri}: a native app's private-use scheme must be a reverse domain name, like com.example.app:/callback (RFC 8252 §7.1)`;
  } else if (uri.slice(scheme.length).startsWith('//')) {
    return `${uri}: a private-use scheme URI has one slash after the scheme, like com.example.app:/callback (RFC 8252 §7.1)`;
  }
  if (u.href !== uri) return `${uri} is not in canonical form; register ${u.href}`;
  return null;
}

/**
 * Our rules on top of oidc-provider's: a name of 1 to 100 characters without control characters,
 * and every redirect and post-logout redirect URI accepted by {@link redirectUriProblem}.
 * @throws InvalidClientError naming the offending value.
 */
function checkRegistration(reg: ClientRegistration): void {
  const name = reg.name.trim();
  if (!name || name.length > 100 || /\p{Cc}/u.test(name)) throw new InvalidClientError('client_name must have 1 to 100 characters and no control characters');
  if (reg.grant === 'client_credentials') {
    if (reg.public) throw new InvalidClientError('a client_credentials client must authenticate (it cannot be public)');
    if (reg.redirectUris.length > 0) throw new InvalidClientError('a client_credentials client has no redirect URIs');
    const problem = apiScopeProblem(reg.scope);
    if (problem) throw new InvalidClientError(problem);
    return;
  }
  if (reg.redirectUris.length === 0) throw new InvalidClientError('at least one redirect URI is required');
  for (const uri of [...reg.redirectUris, ...(reg.postLogoutRedirectUris ?? [])]) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new InvalidClientError(problem);
  }
  if (reg.tokenEndpointAuthMethod === 'private_key_jwt' && !reg.jwks && !reg.jwksUri) throw new InvalidClientError('private_key_jwt needs the client\'s public keys (jwks or jwks_uri)');
}

/**
 * Why a client_credentials client's `scope` is refused, or null: it must name at least one scope,
 * and never `openid` or `offline_access` (tokens for APIs are not about a person; RFC 6749 §4.4).
 */
export function apiScopeProblem(scope: string | undefined): string | null {
  const scopes = (scope ?? '').split(' ').filter(Boolean);
  if (scopes.length === 0) return 'a client_credentials client needs --scope (the API scopes it may ask for)';
  const oidc = scopes.find((s) => s === 'openid' || s === 'offline_access');
  if (oidc) return `${oidc} is an OpenID Connect scope: a client_credentials client asks for API scopes only`;
  return null;
}

/**
 * Gives a confidential client a new random 256-bit secret (the old one stops working at once) and
 * returns it: the only time it is shown; it is stored hashed (src/oidc/client-auth.ts).
 * @returns the new secret, or null when no such client.
 * @throws InvalidClientError when the client has no secret to rotate (public or private_key_jwt).
 */
export async function rotateClientSecret(db: Kysely<Database>, clientId: string): Promise<string | null> {
  const metadata = await payloadOf(db, 'Client', clientId);
  if (!metadata) return null;
  const method = (metadata.token_endpoint_auth_method as string | undefined) ?? 'client_secret_basic';
  if (method !== 'client_secret_basic' && method !== 'client_secret_post') throw new InvalidClientError(`the client authenticates with ${method}: it has no secret to rotate`);
  const secret = randomToken(32);
  await replaceClientPayload(db, clientId, withHashedSecret({ ...metadata, client_secret: secret }));
  return secret;
}

/** Every registered client's metadata, without secrets. */
export async function listClients(db: Kysely<Database>): Promise<Record<string, unknown>[]> {
  const rows = await clientPayloads(db);
  return rows.map((payload) => {
    const { client_secret: _s, ...rest } = payload;
    return rest;
  });
}

/** Removes a client and every token issued to it. Returns false when no such client. */
export async function removeClient(db: Kysely<Database>, clientId: string): Promise<boolean> {
  return deleteClientAndTokens(db, clientId);
}

/**
 * Marks a client first-party (`first_party: true`: no consent page) or third-party. The only way a
 * dynamically registered client becomes first-party (registration metadata cannot).
 * @returns false when no such client.
 */
export async function setFirstParty(db: Kysely<Database>, clientId: string, firstParty: boolean): Promise<boolean> {
  return setClientFirstPartyFlag(db, clientId, firstParty);
}
