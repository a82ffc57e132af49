import { keyOptions, listSigningKeys, loadSigningKeys, rotateSigningKeys, SIGNING_ALGORITHMS, type SigningAlgorithm } from '../../oidc/keys.ts';
import { parseCommandArgs } from '../args.ts';
import { EXIT, UsageError } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { commandUsage } from '../usage.ts';

/**
 * `keys list`: every signing key as a JSON array, newest first: kid, alg, use, created_at, state
 * (`current` signs new tokens; `previous` is still published at /jwks for what it signed; `retired`
 * is gone), superseded_at, retired_at. Never key material. Retires what is due first.
 */
export async function keysList(args: string[], io: CliIo): Promise<number> {
  if (parseCommandArgs(args, {}).values.help) {
    io.out(commandUsage('keys list'));
    return EXIT.OK;
  }
  const keys = await withServices(async (services) => {
    await loadSigningKeys(services.db, keyOptions(services));
    return listSigningKeys(services.db);
  });
  io.out(JSON.stringify(keys, null, 2));
  return EXIT.OK;
}

/**
 * `keys rotate [--alg ES256|RS256]`: a new current key for the algorithm (every algorithm without
 * --alg); the old one becomes previous (published, no longer signing) and is retired a day and an
 * hour later. Prints the new keys (kid, alg). Running servers switch within 30 seconds.
 * @throws UsageError (2) for another --alg.
 */
export async function keysRotate(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, { alg: { type: 'string' } });
  if (parsed.values.help) {
    io.out(commandUsage('keys rotate'));
    return EXIT.OK;
  }
  const alg = parsed.values.alg as string | undefined;
  if (alg !== undefined && !(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) throw new UsageError(`--alg is one of ${SIGNING_ALGORITHMS.join(', ')}`);
  const created = await withServices(async (services) => {
    await loadSigningKeys(services.db, keyOptions(services));
    return rotateSigningKeys(services.db, { alg: alg as SigningAlgorithm | undefined, encryptionSecret: services.config.SIGNING_KEYS_ENCRYPTION_KEY });
  });
  io.out(JSON.stringify(created, null, 2));
  return EXIT.OK;
}
