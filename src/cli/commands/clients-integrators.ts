import { InvalidClientError, rotateClientSecret, setFirstParty } from '../../oidc/clients.ts';
import { createProvider } from '../../oidc/provider.ts';
import { createInitialAccessToken, revokeInitialAccessToken } from '../../oidc/registration.ts';
import { audit } from '../../audit.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError, EXIT, UsageError } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { commandUsage } from '../usage.ts';

/**
 * `clients rotate-secret CLIENT_ID`: gives a client_secret_basic / client_secret_post client a new
 * random 256-bit secret and prints `{"client_id", "client_secret"}` once (it is stored hashed; the
 * old secret stops working at once). Audited `client.secret_rotated`.
 * @throws UsageError (2) without CLIENT_ID; CliError (1) for an unknown client or one without a secret.
 */
export async function clientsRotateSecret(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {}, ['CLIENT_ID']);
  if (parsed.values.help) {
    io.out(commandUsage('clients rotate-secret'));
    return EXIT.OK;
  }
  const clientId = parsed.positionals[0]!;
  const secret = await withServices(async (services) => {
    try {
      const s = await rotateClientSecret(services.db, clientId);
      if (s) await audit(services.db, services.clock, 'client.secret_rotated', null, { clientId });
      return s;
    } catch (err) {
      if (err instanceof InvalidClientError) throw new CliError(err.message);
      throw err;
    }
  });
  if (!secret) throw new CliError(`no such client: ${clientId}`);
  io.out(JSON.stringify({ client_id: clientId, client_secret: secret }, null, 2));
  io.err('Give the new client_secret to the relying party now: it is not shown again, and the old one no longer works.');
  return EXIT.OK;
}

/**
 * `clients initial-access-token [--expires-in SECONDS]`: creates an initial access token for one
 * dynamic client registration (RFC 7591 §3) and prints `{"initial_access_token", "expires_at"}`
 * (ISO 8601). SECONDS is any positive number (default INITIAL_ACCESS_TOKEN_TTL_SECONDS).
 * @throws UsageError (2) for a --expires-in that is not a positive number.
 */
export async function clientsInitialAccessToken(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, { 'expires-in': { type: 'string' } });
  if (parsed.values.help) {
    io.out(commandUsage('clients initial-access-token'));
    return EXIT.OK;
  }
  const raw = parsed.values['expires-in'] as string | undefined;
  const seconds = raw === undefined ? undefined : Number(raw);
  if (seconds !== undefined && (!/^\s*\d+(\.\d+)?\s*$/.test(raw!) || !(seconds > 0) || seconds > 10 * 365 * 86400)) {
    throw new UsageError('--expires-in must be a positive number of seconds (at most 10 years)');
  }
  const out = await withServices(async (services) => {
    const provider = await createProvider(services);
    return createInitialAccessToken(provider, seconds ?? services.config.INITIAL_ACCESS_TOKEN_TTL_SECONDS);
  });
  io.out(JSON.stringify(out, null, 2));
  return EXIT.OK;
}

/**
 * `clients revoke-initial-access-token TOKEN`: deletes an unused initial access token; a
 * registration with it then gets 401. Prints `revoked`.
 * @throws CliError (1) when the token does not exist (used, expired or never issued).
 */
export async function clientsRevokeInitialAccessToken(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {}, ['TOKEN']);
  if (parsed.values.help) {
    io.out(commandUsage('clients revoke-initial-access-token'));
    return EXIT.OK;
  }
  const done = await withServices(async (services) => revokeInitialAccessToken(await createProvider(services), parsed.positionals[0]!));
  if (!done) throw new CliError('no such initial access token (used, expired or never issued)');
  io.out('revoked');
  return EXIT.OK;
}

/**
 * `clients first-party CLIENT_ID [--off]`: marks a client first-party (no consent page) or, with
 * --off, third-party again. The only way a dynamically registered client becomes first-party.
 * @throws CliError (1) for an unknown client.
 */
export async function clientsFirstParty(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, { off: { type: 'boolean' } }, ['CLIENT_ID']);
  if (parsed.values.help) {
    io.out(commandUsage('clients first-party'));
    return EXIT.OK;
  }
  const clientId = parsed.positionals[0]!;
  const on = parsed.values.off !== true;
  const found = await withServices((services) => setFirstParty(services.db, clientId, on));
  if (!found) throw new CliError(`no such client: ${clientId}`);
  io.out(`${clientId} is ${on ? 'first-party (no consent page)' : 'third-party (consent page)'}`);
  return EXIT.OK;
}
