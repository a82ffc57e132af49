import type { Context } from 'koa';
import Provider, { errors } from 'oidc-provider';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { answerUnavailable } from '../http/error-pages.ts';
import type { JWK } from 'jose';
import { render } from '../http/render.ts';
import { formatDuration } from '../i18n/messages.ts';
import { originsOf } from '../http/security-headers.ts';
import type { Services } from '../services.ts';
import { accountOfRequest, createFindAccount, CLAIMS_BY_SCOPE } from './account.ts';
import { ReadCache } from '../db/change-feed.ts';
import { createAdapterClass, guardOutage } from './adapter.ts';
import { choicesOfRequest, jwtAccessTokenCustomizer, principalFits, PRODUCER_NUMBER_PARAM, recordPrincipal, resolvePrincipal, type PrincipalReads } from './delegation.ts';
import { createFetch } from './backchannel.ts';
import { CLIENT_ASSERTION_ALGS, CLIENT_AUTH_METHODS, installClientAuthentication } from './client-auth.ts';
import { keyOptions, loadSigningKeys, rememberPublishedKeys } from './keys.ts';
import { buildPolicy } from './policy.ts';
import { registrationFeatures, watchRegistrations } from './registration.ts';
import { attachScopeRegistry, resourceIndicatorsFeature, ScopeRegistry, scopeRefresher } from './resources.ts';

/** findAccount with a database outage answered as `temporarily_unavailable` (see guardOutage). */
function guardedFindAccount(find: NonNullable<Configuration['findAccount']>): NonNullable<Configuration['findAccount']> {
  return (ctx, sub, token) => guardOutage(async () => find(ctx, sub, token));
}

/**
 * oidc-provider's `renderError` (errors at its endpoints shown to a browser): our error page with
 * the OAuth error code; a database outage (`temporarily_unavailable`) as the 503 "temporarily
 * unavailable" page with Retry-After (src/http/error-pages.ts).
 */
function errorPageRenderer(services: Services): NonNullable<Configuration['renderError']> {
  const { config } = services;
  return async (ctx, out) => {
    const c = ctx as unknown as Context;
    c.state.pageGlobals ??= pageGlobals(services);
    if (out.error === 'temporarily_unavailable') {
      await answerUnavailable(c, config.PORTAL_URL);
      return;
    }
    await render(c, 'idp/error', { title: 'Something went wrong', error: out.error, description: out.error_description ?? null, portalUrl: config.PORTAL_URL }, c.status >= 400 ? c.status : 400);
  };
}
/** The longest a client is served from memory, milliseconds (any change drops it at its commit). */
const CLIENT_CACHE_MAX_AGE_MS = 60_000;

/** oidc-provider's per-instance state (where its configuration lives); see createProvider. */
const OIDC_PROVIDER_INTERNALS: string = 'oidc-provider/lib/helpers/weak_cache.js';

/** Client id of the IdP's own pages (My Account, src/account/session.ts): a static first-party public client. */
export const ACCOUNT_CLIENT_ID = 'idp-account';
/** Redirect URI path of {@link ACCOUNT_CLIENT_ID} (under ISSUER). */
export const ACCOUNT_CALLBACK_PATH = '/account/callback';

/**
 * The static client through which the IdP's own pages (/account) send an anonymous visitor to sign
 * in: first-party (no consent), public with PKCE (`none`), code flow, its only redirect URI
 * `<ISSUER>/account/callback`. It never receives a token: the callback throws the code away and the
 * pages read the IdP session (src/account/session.ts).
 */
export function accountPagesClient(issuer: string) {
  return {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: 'My Account',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [new URL(ACCOUNT_CALLBACK_PATH, issuer).href],
    first_party: true,
  };
}

/** The OpenID Connect scopes (API scopes come from `resources add`). */
export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email', 'phone', 'producer'] as const;

/** Lifetime of a grant (its expiry moves on at each save; also of the record of whom it acts for), seconds: 14 days. */
const GRANT_TTL_SECONDS = 14 * 24 * 3600;

/** True when the client was registered as first-party (`first_party: true` metadata). */
export function isFirstParty(client: { metadata(): Record<string, unknown> } | undefined): boolean {
  return client?.metadata().first_party === true;
}

/**
 * Builds the oidc-provider configuration (OpenID Connect Core 1.0, RFC 6749, RFC 7636 PKCE,
 * RP-Initiated Logout 1.0): authorization code flow only, PKCE S256 (required for public clients),
 * refresh tokens for clients allowed the refresh_token grant, our EJS pages for every screen.
 */
export async function buildConfiguration(services: Services, scopes?: ScopeRegistry): Promise<Configuration> {
  const { config } = services;
  const secure = config.NODE_ENV === 'production';
  const keys = await loadSigningKeys(services.db, keyOptions(services));
  return {
    adapter: createAdapterClass(services.db, new ReadCache(services.changes, 'oidc_payloads', CLIENT_CACHE_MAX_AGE_MS)),
    // The IdP's own pages (/account) sign people in through this static client (src/account/session.ts).
    clients: [accountPagesClient(config.ISSUER)] as never,
    findAccount: guardedFindAccount(createFindAccount(services)),
    jwks: { keys: keys as never },
    // Issue 10 item 10: discovery names only what a registered client can use.
    clientAuthMethods: [...CLIENT_AUTH_METHODS],
    enabledJWA: {
      clientAuthSigningAlgValues: [...CLIENT_ASSERTION_ALGS],
      idTokenSigningAlgValues: ['ES256', 'RS256'],
    },
    // New clients get ES256-signed ID tokens unless they register id_token_signed_response_alg.
    clientDefaults: {
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: 'ES256',
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    // Outgoing requests (logout tokens, client jwks_uri): see createFetch.
    fetch: createFetch(services) as never,
    // acr/amr/auth_time (OIDC Core §2) ride on the openid scope so every ID token says how the
    // producer authenticated (RFC 8176 amr values); see CLAIMS_BY_SCOPE.
    claims: Object.fromEntries(Object.entries(CLAIMS_BY_SCOPE).map(([k, v]) => [k, [...v]])),
    // OpenID Connect scopes plus the API scopes of the registered resources (ScopeRegistry).
    scopes: (scopes?.set ?? [...OIDC_SCOPES]) as never,
    responseTypes: ['code'],
    acrValues: [config.ACR_REMEMBERED_DEVICE, config.ACR_MFA],
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    cookies: {
      keys: config.COOKIE_KEYS,
      long: { signed: true, secure, sameSite: 'lax' },
      short: { signed: true, secure, sameSite: 'lax' },
    },
    ttl: {
      // An access token for a registered resource lives that resource's lifetime (resources add --access-token-ttl).
      AccessToken: (_ctx, token) => (token as { resourceServer?: { accessTokenTTL?: number } }).resourceServer?.accessTokenTTL || 3600,
      ClientCredentials: (_ctx, token) => (token as { resourceServer?: { accessTokenTTL?: number } }).resourceServer?.accessTokenTTL || 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Session: config.SESSION_TTL_SECONDS,
      Grant: GRANT_TTL_SECONDS,
      RefreshToken: 14 * 24 * 3600,
    },
    extraClientMetadata: {
      properties: ['first_party', 'registered_by'],
      validator(_ctx, key, value) {
        if (key === 'first_party' && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata('first_party must be a boolean');
        }
        if (key === 'registered_by' && value !== undefined && value !== 'cli' && value !== 'dynamic_registration') {
          throw new errors.InvalidClientMetadata('registered_by is set by the IdP');
        }
      },
    },
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && (code.scopes.has('openid') || code.scopes.has('offline_access')),
    // First-party clients: the producer never sees a consent page; their grant covers what was asked.
    loadExistingGrant: grantLoader(services),
    // Issue 14: a client may name the producer the person works for (src/oidc/delegation.ts).
    extraParams: [PRODUCER_NUMBER_PARAM],
    // Issue 14: a delegate's API tokens carry the producer as `sub` and `act: { sub: delegate }` (RFC 8693 §4.1).
    formats: { customizers: { jwt: jwtAccessTokenCustomizer(services.db, services.caches.grantPrincipals) as never } },
    interactions: {
      policy: buildPolicy(services),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    features: featuresConfig(services),
    renderError: errorPageRenderer(services),
  };
}

/**
 * oidc-provider's `loadExistingGrant`: for a first-party client the producer never sees a consent
 * page; the grant covers what was asked (OIDC scopes and claims, and the API scopes of the
 * requested resources, RFC 8707, as far as each resource accepts them). Third-party clients keep
 * the grant of their consent.
 */
function grantLoader(services: Services) {
  return async (ctx: KoaContextWithOIDC) => {
    const { oidc } = ctx;
    const accountId = oidc.session!.accountId!;
    // The IdP's own account pages act for nobody (src/interactions/working-for-choice.ts).
    const ownPages = oidc.client!.clientId === ACCOUNT_CLIENT_ID;
    const account = ownPages ? undefined : await accountOfRequest(services.db, ctx, accountId);
    const principal = account ? await resolvePrincipal(services.db, ctx, await choicesOfRequest(services.db, ctx, account)) : undefined;
    const reads: PrincipalReads = new Map();
    const grant = await loadExistingGrant(ctx, async (grantId) => principalFits(services.db, grantId, principal, reads, services.caches.grantPrincipals));
    // Issue 14: the grant finally used acts for the settled principal (when the person must still
    // choose, the "Choose who you are working for" prompt comes and this runs again on resume).
    if (grant && principal) await recordPrincipal(services.db, services.clock, grant.jti, accountId, principal, GRANT_TTL_SECONDS, reads, services.caches.grantPrincipals);
    return grant;
  };
}

/**
 * The grant of the session for this client (or of the consent just given) when it acts for the
 * principal settled for this request (`fits`); a first-party client otherwise gets a new one.
 */
async function loadExistingGrant(ctx: KoaContextWithOIDC, fits: (grantId: string) => Promise<boolean>) {
  const { oidc } = ctx;
  const grantId = oidc.result?.consent?.grantId || oidc.session!.grantIdFor(oidc.client!.clientId);
  const found = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  const existing = found && (await fits(found.jti)) ? found : undefined;
  if (!isFirstParty(oidc.client as never)) return existing;
  const grant = existing ?? new oidc.provider.Grant({ clientId: oidc.client!.clientId, accountId: oidc.session!.accountId });
  const before = existing ? grantShape(existing) : '';
  grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
  const claims = oidc.requestParamClaims ? [...oidc.requestParamClaims] : [];
  if (claims.length) grant.addOIDCClaims(claims);
  // API scopes of the requested resources (RFC 8707), as far as each resource accepts them.
  for (const [indicator, server] of Object.entries(oidc.resourceServers ?? {})) {
    const accepted = new Set(((server as { scope?: string }).scope ?? '').split(' '));
    const asked = [...oidc.requestParamScopes].filter((s) => accepted.has(s));
    if (asked.length) grant.addResourceScope(indicator, asked.join(' '));
  }
  // Issue 12: an unchanged grant is written again only to extend its life (at most once a day),
  // not at every authorization request and resume.
  const unchanged = existing && grantShape(grant) === before && (existing.exp ?? 0) - Math.floor(Date.now() / 1000) > GRANT_TTL_SECONDS - GRANT_REFRESH_SECONDS;
  if (!unchanged) await grant.save();
  return grant;
}

/** How often an unchanged grant is saved again to extend its life, seconds. */
const GRANT_REFRESH_SECONDS = 24 * 3600;

/** What a grant allows (scopes, claims, resources, rejections), to tell whether it changed. */
function grantShape(grant: { openid?: unknown; resources?: unknown; rejected?: unknown; rar?: unknown }): string {
  return JSON.stringify([grant.openid ?? null, grant.resources ?? null, grant.rejected ?? null, grant.rar ?? null]);
}

/** oidc-provider's `features` (which protocol features are on, and their policies). */
function featuresConfig(services: Services): NonNullable<Configuration['features']> {
  const { config } = services;
  return {
    devInteractions: { enabled: false },
    // RFC 7009 §2.1: a client revokes only its own tokens (a public client's request for another's is ignored).
    revocation: {
      enabled: true,
      allowedPolicy: async (_ctx: KoaContextWithOIDC, client: { clientId: string; clientAuthMethod: string }, token: { clientId?: string }) => {
        if (token.clientId === client.clientId) return true;
        if (client.clientAuthMethod === 'none') return false;
        throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
      },
    } as never,
    userinfo: { enabled: true },
    ...registrationFeatures(services),
    clientCredentials: { enabled: true },
    resourceIndicators: resourceIndicatorsFeature(services.db) as never,
    // RFC 7662: confidential clients may introspect; a public client only its own tokens.
    introspection: {
      enabled: true,
      allowedPolicy: async (ctx: KoaContextWithOIDC, client: { clientAuthMethod: string }, token: { clientId?: string }) =>
        client.clientAuthMethod !== 'none' || token.clientId === ctx.oidc.client?.clientId,
    } as never,
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        const c = ctx as unknown as Context & KoaContextWithOIDC;
        const client = c.oidc?.client;
        c.state.formActionOrigins = originsOf(client?.postLogoutRedirectUris ?? []);
        await render(c, 'idp/logout', { title: 'Log out', form, clientName: client?.clientName ?? null });
      },
      async postLogoutSuccessSource(ctx) {
        await render(ctx as unknown as Context, 'idp/logged-out', { title: 'Logged out', portalUrl: config.PORTAL_URL });
      },
    },
  };
}

/**
 * Values every page receives and that fill message placeholders: branding, and the configured
 * thresholds and durations (so "5 failed attempts lock an account for 30 minutes" shows
 * LOCKOUT_THRESHOLD and LOCKOUT_SECONDS as configured; durations as text, e.g. "30 minutes").
 */
export function pageGlobals(services: Pick<Services, 'config'>) {
  const c = services.config;
  return {
    organizationName: c.ORGANIZATION_NAME, productName: c.PRODUCT_NAME, helpDeskPhone: c.HELP_DESK_PHONE, supportEmail: c.SUPPORT_EMAIL, portalUrl: c.PORTAL_URL,
    lockoutThreshold: c.LOCKOUT_THRESHOLD,
    lockoutDuration: formatDuration(c.LOCKOUT_SECONDS),
    emailLinkDuration: formatDuration(c.EMAIL_VERIFICATION_TTL_SECONDS),
    rememberDuration: formatDuration(c.DEVICE_TTL_SECONDS),
  };
}

/** Creates the provider for `services.config.ISSUER`, trusting proxy headers only with TRUST_PROXY, and only TRUST_PROXY_HOPS entries of X-Forwarded-For. */
export async function createProvider(services: Services): Promise<Provider> {
  const scopes = new ScopeRegistry(services.db, OIDC_SCOPES, services.changes);
  await scopes.refresh(true);
  const configuration = await buildConfiguration(services, scopes);
  const provider = new Provider(services.config.ISSUER, configuration);
  rememberPublishedKeys(provider, (configuration.jwks as { keys: JWK[] }).keys);
  // oidc-provider keeps a copy of `scopes` in its per-provider configuration (lib/helpers/weak_cache.js,
  // not a public API): the registry updates that copy, which is what the client schema, the
  // authorization and token endpoints and discovery consult.
  const { default: internals } = (await import(OIDC_PROVIDER_INTERNALS)) as { default: (p: Provider) => { configuration: { scopes: Set<string> } } };
  scopes.bind(internals(provider).configuration.scopes);
  attachScopeRegistry(provider, scopes);
  provider.use(scopeRefresher(scopes) as never);
  provider.proxy = services.config.TRUST_PROXY;
  // Only the last TRUST_PROXY_HOPS entries of X-Forwarded-For were written by our proxies; the
  // client address is the first of those (entries further left are whatever the client sent).
  provider.maxIpsCount = services.config.TRUST_PROXY_HOPS;
  installClientAuthentication(provider);
  watchRegistrations(provider, services);
  return provider;
}
