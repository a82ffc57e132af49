import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { audit } from '../audit.ts';
import type { Services } from '../services.ts';
import { randomId, randomToken } from '../security/tokens.ts';
import { backchannelLogoutUriProblem } from './backchannel.ts';
import { apiScopeProblem, redirectUriProblem } from './clients.ts';

/** The registration policy every initial access token carries (oidc-provider `features.registration.policies`). */
export const REGISTRATION_POLICY = 'producer-idp';

/** Grant types a dynamically registered client may ask for. */
const REGISTRABLE_GRANTS = new Set(['authorization_code', 'refresh_token', 'client_credentials']);

/**
 * Our rules on registration metadata (RFC 7591 §2, §3.2.2), applied by oidc-provider to every
 * registration (RFC 7591) and update (RFC 7592) made with an initial or registration access token:
 * - redirect_uris and post_logout_redirect_uris pass the same strict checks as `clients add`
 *   ({@link redirectUriProblem}), else `invalid_redirect_uri`;
 * - `first_party` cannot be set by registration (only `clients add --first-party` or
 *   `clients first-party`): `invalid_client_metadata`; the stored value is kept on update;
 * - `registered_by` is always `dynamic_registration` (what `clients list` shows);
 * - client_credentials clients ask for API scopes only (never `openid`), and authenticate;
 * - backchannel_logout_uri follows {@link backchannelLogoutUriProblem}.
 * Nothing is stored when a rule fails (oidc-provider runs policies before saving).
 */
export function registrationPolicy(services: Services) {
  const production = services.config.NODE_ENV === 'production';
  return async (ctx: KoaContextWithOIDC, properties: Record<string, unknown>): Promise<void> => {
    const current = ctx.oidc.entities.Client as unknown as { metadata(): Record<string, unknown> } | undefined;
    const wasFirstParty = current?.metadata().first_party === true;
    if (properties.first_party !== undefined && properties.first_party !== wasFirstParty) {
      throw new errors.InvalidClientMetadata('first_party cannot be set by registration; an operator marks a client first-party');
    }
    properties.first_party = wasFirstParty;
    properties.registered_by = 'dynamic_registration';
    if (typeof properties.client_name === 'string' && (!properties.client_name.trim() || properties.client_name.length > 100 || /\p{Cc}/u.test(properties.client_name))) {
      throw new errors.InvalidClientMetadata('client_name must have 1 to 100 characters and no control characters');
    }
    const grants = (properties.grant_types as unknown[] | undefined) ?? ['authorization_code'];
    if (!Array.isArray(grants) || grants.some((g) => typeof g !== 'string' || !REGISTRABLE_GRANTS.has(g))) {
      throw new errors.InvalidClientMetadata(`grant_types may contain only ${[...REGISTRABLE_GRANTS].join(', ')}`);
    }
    for (const key of ['redirect_uris', 'post_logout_redirect_uris']) {
      const uris = properties[key];
      if (uris === undefined) continue;
      if (!Array.isArray(uris)) throw new errors.InvalidClientMetadata(`${key} must be an array of URIs`);
      for (const uri of uris) {
        const problem = redirectUriProblem(uri as string);
        if (problem) throw key === 'redirect_uris' ? new errors.InvalidRedirectUri(problem) : new errors.InvalidClientMetadata(problem);
      }
    }
    if (grants.includes('client_credentials')) {
      if (properties.token_endpoint_auth_method === 'none') throw new errors.InvalidClientMetadata('a client_credentials client must authenticate');
      const problem = apiScopeProblem(properties.scope as string | undefined);
      if (problem) throw new errors.InvalidClientMetadata(problem.replace('--scope', 'scope'));
      if (!grants.includes('authorization_code')) {
        properties.response_types = [];
        properties.redirect_uris ??= [];
      }
    }
    if (typeof properties.backchannel_logout_uri === 'string') {
      const problem = backchannelLogoutUriProblem(properties.backchannel_logout_uri, { production, allowedHosts: services.config.BACKCHANNEL_LOGOUT_ALLOWED_HOSTS });
      if (problem) throw new errors.InvalidClientMetadata(problem);
    }
  };
}

/**
 * oidc-provider's `features.registration` (RFC 7591, OIDC Dynamic Client Registration 1.0) and
 * `features.registrationManagement` (RFC 7592): registration needs an initial access token
 * ({@link createInitialAccessToken}), gets a registration access token and registration_client_uri;
 * the registration access token is rotated on every update. Secrets are 256-bit random.
 */
export function registrationFeatures(services: Services) {
  return {
    registration: {
      enabled: true,
      initialAccessToken: true,
      issueRegistrationAccessToken: true,
      policies: { [REGISTRATION_POLICY]: registrationPolicy(services) },
      secretFactory: async () => randomToken(32),
      // Client ids an operator can type on the command line (never a leading `-`).
      idFactory: () => randomId(16),
    },
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
  };
}

/**
 * Creates an initial access token (RFC 7591 §3, §1.2) carrying {@link REGISTRATION_POLICY}. It is
 * good for one registration: it is deleted once a client is registered with it
 * ({@link watchRegistrations}); an expired or revoked one gets 401 `invalid_token`.
 * @param expiresIn lifetime, seconds (> 0).
 * @returns the token value and when it expires.
 */
export async function createInitialAccessToken(provider: Provider, expiresIn: number): Promise<{ initial_access_token: string; expires_at: string }> {
  if (!Number.isFinite(expiresIn) || expiresIn <= 0) throw new RangeError('expiresIn must be a positive number of seconds');
  const seconds = Math.ceil(expiresIn);
  const iat = new provider.InitialAccessToken({ expiresIn: seconds, policies: [REGISTRATION_POLICY] } as never);
  const value = await iat.save();
  const exp = (iat as unknown as { exp?: number }).exp;
  return { initial_access_token: value, expires_at: new Date((exp ?? Math.floor(Date.now() / 1000) + seconds) * 1000).toISOString() };
}

/** Revokes an initial access token. @returns false when it does not exist (or has expired). */
export async function revokeInitialAccessToken(provider: Provider, value: string): Promise<boolean> {
  const iat = await provider.InitialAccessToken.find(value);
  if (!iat) return false;
  await iat.destroy();
  return true;
}

/**
 * Audits registrations (`client.registered`, `client.updated`, `client.deleted`) and makes an
 * initial access token single-use (deleted after the registration it allowed).
 */
export function watchRegistrations(provider: Provider, services: Services): void {
  const ip = (ctx: KoaContextWithOIDC) => ({ ip: ctx.ip ?? null, userAgent: ctx.get('user-agent') || null });
  provider.on('registration_create.success', (ctx: KoaContextWithOIDC, client: { clientId: string }) => {
    services.later('registration audit', async () => {
      await ctx.oidc.entities.InitialAccessToken?.destroy();
      await audit(services.db, services.clock, 'client.registered', null, { ...ip(ctx), clientId: client.clientId }, { registered_by: 'dynamic_registration' });
    });
  });
  provider.on('registration_update.success', (ctx: KoaContextWithOIDC, client: { clientId: string }) => {
    services.later('registration audit', () => audit(services.db, services.clock, 'client.updated', null, { ...ip(ctx), clientId: client.clientId }));
  });
  provider.on('registration_delete.success', (ctx: KoaContextWithOIDC, client: { clientId: string }) => {
    services.later('registration audit', () => audit(services.db, services.clock, 'client.deleted', null, { ...ip(ctx), clientId: client.clientId }));
  });
}
