import { readFileSync } from 'node:fs';
import { backchannelLogoutUriProblem } from '../../oidc/backchannel.ts';
import { InvalidClientError, REGISTRABLE_AUTH_METHODS, registerClient, type RegistrableAuthMethod } from '../../oidc/clients.ts';
import { createProvider } from '../../oidc/provider.ts';
import { parseCommandArgs, requiredString, stringList } from '../args.ts';
import { CliError, EXIT, UsageError } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { commandUsage } from '../usage.ts';

/** The keys `clients add` prints, in this order (client_secret only for confidential clients). */
const PRINTED_KEYS = [
  'client_id',
  'client_secret',
  'client_name',
  'redirect_uris',
  'post_logout_redirect_uris',
  'grant_types',
  'scope',
  'token_endpoint_auth_method',
  'jwks_uri',
  'backchannel_logout_uri',
  'id_token_signed_response_alg',
  'first_party',
  'registered_by',
] as const;

/**
 * `clients add --name NAME --redirect-uri URI [--redirect-uri URI …] [--post-logout-redirect-uri URI …]
 * [--public] [--first-party] [--token-endpoint-auth-method M] [--jwks FILE | --jwks-uri URI]
 * [--backchannel-logout-uri URI] [--id-token-signed-response-alg ES256|RS256]`, or
 * `clients add --name NAME --grant client_credentials --scope "a b"` (machine-to-machine: no
 * redirect URIs, API scopes only, never `openid`): validates the metadata with oidc-provider and stores the client
 * ({@link registerClient}; client_id random, client_secret 256-bit random unless `--public`), then
 * prints a JSON object with client_id, client_secret (confidential only), client_name,
 * redirect_uris, post_logout_redirect_uris, token_endpoint_auth_method (`client_secret_basic` or
 * `none`) and first_party. A note on stderr reminds to keep the secret.
 * @returns exit 0.
 * @throws UsageError (2) when --name or --redirect-uri is missing, or for an unknown option;
 *   CliError (1) `invalid client metadata: …` (e.g. a redirect URI with a fragment, or not a URL);
 *   ConfigError / EmbeddedDatabaseBusyError (78).
 */
export async function clientsAdd(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {
    name: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
    public: { type: 'boolean' },
    'first-party': { type: 'boolean' },
    grant: { type: 'string' },
    scope: { type: 'string' },
    'token-endpoint-auth-method': { type: 'string' },
    jwks: { type: 'string' },
    'jwks-uri': { type: 'string' },
    'backchannel-logout-uri': { type: 'string' },
    'id-token-signed-response-alg': { type: 'string' },
  });
  if (parsed.values.help) {
    io.out(commandUsage('clients add'));
    return EXIT.OK;
  }
  const name = requiredString(parsed, 'name').trim();
  const redirectUris = stringList(parsed, 'redirect-uri');
  const grant = (parsed.values.grant as string | undefined) ?? 'authorization_code';
  if (grant !== 'authorization_code' && grant !== 'client_credentials') throw new UsageError('--grant is authorization_code (default) or client_credentials');
  if (grant === 'authorization_code' && redirectUris.length === 0) throw new UsageError('missing --redirect-uri (at least one)');
  if (grant === 'client_credentials' && typeof parsed.values.scope !== 'string') throw new UsageError('missing --scope (the API scopes of a client_credentials client)');
  const isPublic = parsed.values.public === true;
  const method = parsed.values['token-endpoint-auth-method'] as string | undefined;
  if (method !== undefined && !(REGISTRABLE_AUTH_METHODS as readonly string[]).includes(method)) throw new UsageError(`--token-endpoint-auth-method is one of ${REGISTRABLE_AUTH_METHODS.join(', ')}`);
  if (method !== undefined && isPublic) throw new UsageError('--public clients use no secret and no key: leave out --token-endpoint-auth-method');
  const alg = parsed.values['id-token-signed-response-alg'] as string | undefined;
  if (alg !== undefined && alg !== 'ES256' && alg !== 'RS256') throw new UsageError('--id-token-signed-response-alg is ES256 (default) or RS256');
  let jwks: { keys: Record<string, unknown>[] } | undefined;
  if (typeof parsed.values.jwks === 'string') {
    try {
      jwks = JSON.parse(readFileSync(parsed.values.jwks, 'utf8'));
    } catch (err) {
      throw new CliError(`cannot read the JWK Set in ${parsed.values.jwks}: ${(err as Error).message}`);
    }
  }
  const backchannelLogoutUri = parsed.values['backchannel-logout-uri'] as string | undefined;

  const metadata = await withServices(async (services) => {
    if (backchannelLogoutUri !== undefined) {
      const problem = backchannelLogoutUriProblem(backchannelLogoutUri, { production: services.config.NODE_ENV === 'production', allowedHosts: services.config.BACKCHANNEL_LOGOUT_ALLOWED_HOSTS });
      if (problem) throw new CliError(`invalid client metadata: ${problem}`);
    }
    const provider = await createProvider(services);
    try {
      return await registerClient(services.db, provider, {
        name,
        redirectUris,
        postLogoutRedirectUris: stringList(parsed, 'post-logout-redirect-uri'),
        public: isPublic,
        firstParty: parsed.values['first-party'] === true,
        grant: grant as 'authorization_code' | 'client_credentials',
        scope: parsed.values.scope as string | undefined,
        tokenEndpointAuthMethod: method as RegistrableAuthMethod | undefined,
        jwks,
        jwksUri: parsed.values['jwks-uri'] as string | undefined,
        backchannelLogoutUri,
        idTokenSignedResponseAlg: alg as 'ES256' | 'RS256' | undefined,
      });
    } catch (err) {
      if (err instanceof InvalidClientError) throw new CliError(`invalid client metadata: ${err.message}`);
      throw err;
    }
  });

  const shown: Record<string, unknown> = {};
  for (const key of PRINTED_KEYS) if (metadata[key] !== undefined) shown[key] = metadata[key];
  io.out(JSON.stringify(shown, null, 2));
  if (metadata.client_secret) io.err('Give the client_secret to the relying party now: `clients list` does not show it.');
  return EXIT.OK;
}
