import { findAccountByUsername } from '../../db/repositories/accounts.ts';
import { delegationsOfDelegate, delegationsOfProducer, type Delegation } from '../../db/repositories/delegations.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError, EXIT } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { commandUsage } from '../usage.ts';

/** One delegation as `delegates list` prints it (snake_case, times as ISO strings or null). */
export interface DelegationJson {
  id: string;
  producer_number: string;
  /** The person invited (the account that accepted may use other names: see `delegate_account_id`). */
  invited: { first_name: string; last_name: string; email: string };
  delegate_account_id: string | null;
  permissions: string[];
  status: 'invited' | 'active' | 'removed';
  invited_at: string;
  accepted_at: string | null;
  removed_at: string | null;
  last_active_at: string | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The JSON form of a delegation. */
export function delegationJson(d: Delegation): DelegationJson {
  return {
    id: d.id,
    producer_number: d.producerNumber,
    invited: { first_name: d.firstName, last_name: d.lastName, email: d.email },
    delegate_account_id: d.delegateAccountId,
    permissions: [...d.permissions],
    status: d.status,
    invited_at: d.invitedAt.toISOString(),
    accepted_at: iso(d.acceptedAt),
    removed_at: iso(d.removedAt),
    last_active_at: iso(d.lastActiveAt),
  };
}

/**
 * `delegates list USERNAME` (issue 14, for the Service Desk): prints, as JSON, the account's kind
 * and both sides of its delegations — `delegates`: the people a producer invited (View/Add My
 * Delegates: invited, active and removed), `works_for`: the producers whose delegate the person is
 * or was. Read only; the username is compared ignoring case.
 * @returns exit 0.
 * @throws UsageError (2) without USERNAME; CliError (1) `no such account: USERNAME`;
 *   ConfigError / EmbeddedDatabaseBusyError (78).
 */
export async function delegatesList(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {}, ['USERNAME']);
  if (parsed.values.help) {
    io.out(commandUsage('delegates list'));
    return EXIT.OK;
  }
  const username = parsed.positionals[0]!;
  const out = await withServices(async (services) => {
    const account = await findAccountByUsername(services.db, username);
    if (!account) throw new CliError(`no such account: ${username}`);
    const delegates = account.producerNumber ? await delegationsOfProducer(services.db, account.producerNumber) : [];
    const worksFor = await delegationsOfDelegate(services.db, account.id);
    return { username: account.username, kind: account.kind, producer_number: account.producerNumber, delegates: delegates.map(delegationJson), works_for: worksFor.map(delegationJson) };
  });
  io.out(JSON.stringify(out, null, 2));
  return EXIT.OK;
}
