import { eventsOfAccount } from '../db/repositories/audit-events.ts';
import { findDelegation } from '../db/repositories/delegations.ts';
import { findProducer } from '../db/repositories/producers.ts';
import type { Services } from '../services.ts';
import { describeBrowser } from './browser.ts';
import { formatTime, type AccountPage } from './pages.ts';

/** How many events the page shows. */
const SHOWN = 30;

/**
 * The audit event types a producer sees on "Recent activity", each with the words it is shown
 * with (message codes `activity.<type>` in src/i18n/messages.ts). Other events (codes sent, rate
 * limits, back-channel deliveries…) are for operators only.
 */
export const ACTIVITY_TYPES = [
  'login.success', 'login.failure', 'login.locked', 'login.rejected_locked', 'login.disabled', 'login.email_not_verified', 'logout',
  'mfa.passed', 'mfa.failed', 'mfa.exhausted',
  'device.remembered', 'device.revoked',
  'keystroke.enrolled', 'keystroke.reset',
  'registration.account_created', 'registration.email_verified', 'terms.accepted',
  'recovery.username_requested', 'recovery.password_reset_started', 'recovery.password_changed', 'recovery.account_unlocked',
  'account.password_changed', 'account.password_change_failed', 'account.sessions_ended', 'account.mobile_confirmed', 'account.mobile_removed',
  'operator.account_unlocked', 'operator.account_disabled', 'operator.account_enabled', 'operator.signed_out',
  'delegate.invited', 'delegate.invitation_resent', 'delegate.invitation_accepted', 'delegate.account_created',
  'delegate.working_for', 'delegate.removed', 'delegate.deactivated',
] as const;

/**
 * The words of a delegate event (issue 14; recorded for both people, src/audit.ts) as this account
 * sees it: the producer reads about their delegate (`activity.<type>.producer`, `{name}` = the
 * delegate's name as invited), the delegate about the producer (`activity.<type>.delegate`,
 * `{name}` = the producer's name); `delegate.working_for` with `self` is a person working for
 * themselves. Names are read from the delegation (`details.delegationId`) and the producer record.
 * @param names per-page cache of the names read, by delegation id.
 */
async function delegateEventWords(
  services: Pick<Services, 'db'>,
  accountId: string,
  type: string,
  details: Record<string, unknown>,
  names: Map<string, Promise<{ producerSide: boolean; name: string } | undefined>>,
): Promise<{ what: string; params: Record<string, string> }> {
  if (type === 'delegate.working_for' && details.self === true) return { what: 'activity.delegate.working_for_self', params: {} };
  const id = typeof details.delegationId === 'string' ? details.delegationId : '';
  if (!names.has(id)) {
    names.set(id, (async () => {
      const d = id ? await findDelegation(services.db, id) : undefined;
      if (!d) return undefined;
      if (d.producerAccountId === accountId) return { producerSide: true, name: `${d.firstName} ${d.lastName}` };
      const producer = await findProducer(services.db, d.producerNumber);
      return { producerSide: false, name: producer ? `${producer.firstName} ${producer.lastName}` : d.producerNumber };
    })());
  }
  const found = await names.get(id)!;
  // Without the delegation (never expected: delegations are kept), the side follows from the details.
  const producerSide = found ? found.producerSide : type === 'delegate.invited' || type === 'delegate.invitation_resent' || 'delegateAccountId' in details;
  return {
    what: `activity.${type}.${producerSide ? 'producer' : 'delegate'}`,
    params: { name: found?.name ?? (producerSide ? 'a delegate' : 'a producer') },
  };
}

/**
 * "Recent activity" (issue 14 item 6): the account's last {@link SHOWN} sign-ins and security events
 * from the audit trail (src/audit.ts), newest first, each with its time, browser (from the user
 * agent), address and what happened in plain words — so a producer can spot what they did not do.
 * Read only.
 */
export const recentActivityPage: AccountPage = {
  name: 'activity',
  path: '/account/activity',
  view: 'idp/account-activity',
  postsHere: false,
  async model({ services, state }) {
    const rows = await eventsOfAccount(services.db, state.accountId, { types: ACTIVITY_TYPES }, SHOWN);
    const names = new Map<string, Promise<{ producerSide: boolean; name: string } | undefined>>();
    const events = await Promise.all(rows.map(async (r) => {
      const details = r.details;
      const byDesk = details.by === 'service_desk' || r.userAgent === 'service-desk-cli' || r.userAgent === 'cli';
      const words = r.type.startsWith('delegate.')
        ? await delegateEventWords(services, state.accountId, r.type, details, names)
        : { what: `activity.${r.type}${r.type === 'device.revoked' && details.deviceId === 'all' ? '_all' : ''}`, params: {} };
      return {
        at: formatTime(r.at),
        ...words,
        browser: details.by === 'producers import' ? 'Producer records update' : byDesk ? 'Service Desk' : describeBrowser(r.userAgent),
        ip: r.ip ?? '—',
      };
    }));
    return { title: 'Recent activity', events };
  },
  async submit() {
    return { kind: 'retry', status: 405 };
  },
};
