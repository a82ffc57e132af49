import { addResource, InvalidResourceError, listResources, removeResource } from '../../oidc/resources.ts';
import { parseCommandArgs, requiredString } from '../args.ts';
import { CliError, EXIT, UsageError } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { commandUsage } from '../usage.ts';

function shown(r: { identifier: string; scopes: string[]; accessTokenTtl: number; createdAt: Date }) {
  return { identifier: r.identifier, scope: r.scopes.join(' '), access_token_ttl: r.accessTokenTtl, created_at: r.createdAt.toISOString() };
}

/**
 * `resources add --identifier URI --scope "a b" [--access-token-ttl SECONDS]`: registers (or
 * replaces) an API that clients may ask JWT access tokens for (RFC 8707, RFC 9068); running IdPs
 * serve it at once. Prints it as JSON.
 * @throws UsageError (2) for missing options or a non-numeric lifetime; CliError (1) for an invalid
 *   identifier or scope (e.g. `openid`), nothing stored.
 */
export async function resourcesAdd(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, { identifier: { type: 'string' }, scope: { type: 'string' }, 'access-token-ttl': { type: 'string' } });
  if (parsed.values.help) {
    io.out(commandUsage('resources add'));
    return EXIT.OK;
  }
  const identifier = requiredString(parsed, 'identifier');
  const scopes = requiredString(parsed, 'scope').split(' ').filter(Boolean);
  const rawTtl = parsed.values['access-token-ttl'] as string | undefined;
  if (rawTtl !== undefined && !/^\d+$/.test(rawTtl)) throw new UsageError('--access-token-ttl is a whole number of seconds');
  const resource = await withServices(async (services) => {
    try {
      return await addResource(services.db, identifier, scopes, rawTtl === undefined ? undefined : Number(rawTtl));
    } catch (err) {
      if (err instanceof InvalidResourceError) throw new CliError(`invalid resource: ${err.message}`);
      throw err;
    }
  });
  io.out(JSON.stringify(shown(resource), null, 2));
  return EXIT.OK;
}

/** `resources list`: the registered resources as a JSON array. */
export async function resourcesList(args: string[], io: CliIo): Promise<number> {
  if (parseCommandArgs(args, {}).values.help) {
    io.out(commandUsage('resources list'));
    return EXIT.OK;
  }
  const all = await withServices((services) => listResources(services.db));
  io.out(JSON.stringify(all.map(shown), null, 2));
  return EXIT.OK;
}

/** `resources remove URI`: removes a resource (tokens issued for it stay valid until they expire). */
export async function resourcesRemove(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {}, ['URI']);
  if (parsed.values.help) {
    io.out(commandUsage('resources remove'));
    return EXIT.OK;
  }
  const uri = parsed.positionals[0]!;
  const removed = await withServices((services) => removeResource(services.db, uri));
  if (!removed) throw new CliError(`no such resource: ${uri}`);
  io.out(`removed ${uri}`);
  return EXIT.OK;
}
