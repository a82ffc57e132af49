import { InvalidClientError, registerClient } from '../../oidc/clients.ts';
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
  'token_endpoint_auth_method',
  'first_party',
] as const;

/**
 * `clients add --name NAME --redirect-uri URI [--redirect-uri URI …] [--post-logout-redirect-uri URI …]
 * [--public] [--first-party]`: validates the metadata with oidc-provider and stores the client
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
  });
  if (parsed.values.help) {
    io.out(commandUsage('clients add'));
    return EXIT.OK;
  }
  const name = requiredString(parsed, 'name').trim();
  const redirectUris = stringList(parsed, 'redirect-uri');
  if (redirectUris.length === 0) throw new UsageError('missing --redirect-uri (at least one)');
  const isPublic = parsed.values.public === true;

  const metadata = await withServices(async (services) => {
    const provider = await createProvider(services);
    try {
      return await registerClient(services.db, provider, {
        name,
        redirectUris,
        postLogoutRedirectUris: stringList(parsed, 'post-logout-redirect-uri'),
        public: isPublic,
        firstParty: parsed.values['first-party'] === true,
      });
    } catch (err) {
      if (err instanceof InvalidClientError) throw new CliError(`invalid client metadata: ${err.message}`);
      throw err;
    }
  });

  const shown: Record<string, unknown> = {};
  for (const key of PRINTED_KEYS) if (metadata[key] !== undefined) shown[key] = metadata[key];
  io.out(JSON.stringify(shown, null, 2));
  if (!isPublic) io.err('Give the client_secret to the relying party now: `clients list` does not show it.');
  return EXIT.OK;
}
