import {
  disableAccount, enableAccount, listSessions, signOutEverywhere, summarizeAccount, unlockAccount, UnknownAccountError,
} from '../../operator/service-desk.ts';
import { parseCommandArgs, requiredString, type ParsedArgs } from '../args.ts';
import { CliError, EXIT } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { commandUsage } from '../usage.ts';
import type { Services } from '../../services.ts';

const OPERATOR = { operator: { type: 'string' } } as const;

/**
 * Runs one Service Desk command: parses `USERNAME` and the options, prints `--help`, opens the
 * services, and turns an unknown username into `no such account: USERNAME` (exit 1).
 */
async function accountCommand(
  name: string,
  args: string[],
  io: CliIo,
  options: Record<string, { type: 'string' | 'boolean' }>,
  action: (services: Services, username: string, parsed: ParsedArgs) => Promise<void>,
): Promise<number> {
  const parsed = parseCommandArgs(args, options, ['USERNAME']);
  if (parsed.values.help) {
    io.out(commandUsage(name));
    return EXIT.OK;
  }
  const [username] = parsed.positionals as [string];
  // Changes name the operator (--operator); check it before opening the database.
  if ('operator' in options) requiredString(parsed, 'operator');
  if ('reason' in options) requiredString(parsed, 'reason');
  await withServices(async (services) => {
    try {
      await action(services, username, parsed);
    } catch (err) {
      if (err instanceof UnknownAccountError) throw new CliError(err.message);
      throw err;
    }
  });
  return EXIT.OK;
}

/** Operator names and reasons are kept to one printable line. */
function oneLine(text: string, max: number): string {
  return text.replace(/\p{Cc}+/gu, ' ').trim().slice(0, max);
}

/**
 * `accounts show USERNAME`: the account as JSON (status, lock, email confirmation, factors,
 * remembered devices, typing pattern, last sign-ins from the audit; no secrets).
 * @throws CliError (1) `no such account: USERNAME`; UsageError (2).
 */
export function accountsShow(args: string[], io: CliIo): Promise<number> {
  return accountCommand('accounts show', args, io, {}, async (services, username) => {
    io.out(JSON.stringify(await summarizeAccount(services, username), null, 2));
  });
}

/**
 * `accounts unlock USERNAME --operator NAME`: lifts the lock and clears failed attempts; prints
 * `unlocked USERNAME` or `USERNAME was not locked (failed attempts cleared)`.
 */
export function accountsUnlock(args: string[], io: CliIo): Promise<number> {
  return accountCommand('accounts unlock', args, io, OPERATOR, async (services, username, parsed) => {
    const was = await unlockAccount(services, username, oneLine(parsed.values.operator as string, 100));
    io.out(was ? `unlocked ${username}` : `${username} was not locked (failed attempts cleared)`);
  });
}

/** `accounts disable USERNAME --reason TEXT --operator NAME`: disables and ends every session and token. */
export function accountsDisable(args: string[], io: CliIo): Promise<number> {
  return accountCommand('accounts disable', args, io, { ...OPERATOR, reason: { type: 'string' } }, async (services, username, parsed) => {
    await disableAccount(services, username, oneLine(parsed.values.operator as string, 100), oneLine(parsed.values.reason as string, 500));
    io.out(`disabled ${username}; every session and token ended`);
  });
}

/** `accounts enable USERNAME --operator NAME`: enables a disabled account. */
export function accountsEnable(args: string[], io: CliIo): Promise<number> {
  return accountCommand('accounts enable', args, io, OPERATOR, async (services, username, parsed) => {
    const was = await enableAccount(services, username, oneLine(parsed.values.operator as string, 100));
    io.out(was ? `enabled ${username}` : `${username} was not disabled`);
  });
}

/** `accounts sessions USERNAME`: the IdP sessions and refresh tokens as JSON (no token values). */
export function accountsSessions(args: string[], io: CliIo): Promise<number> {
  return accountCommand('accounts sessions', args, io, {}, async (services, username) => {
    io.out(JSON.stringify(await listSessions(services, username), null, 2));
  });
}

/** `accounts sign-out USERNAME --operator NAME`: ends every IdP session, grant and token. */
export function accountsSignOut(args: string[], io: CliIo): Promise<number> {
  return accountCommand('accounts sign-out', args, io, OPERATOR, async (services, username, parsed) => {
    const removed = await signOutEverywhere(services, username, oneLine(parsed.values.operator as string, 100));
    io.out(`signed ${username} out everywhere (${removed} session(s), grant(s) and token(s) ended)`);
  });
}
