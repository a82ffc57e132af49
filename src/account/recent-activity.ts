import { eventsOfAccount } from '../db/repositories/audit-events.ts';
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
] as const;

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
    const events = rows.map((r) => {
      const details = r.details;
      const byDesk = details.by === 'service_desk' || r.userAgent === 'service-desk-cli' || r.userAgent === 'cli';
      return {
        at: formatTime(r.at),
        what: `activity.${r.type}${r.type === 'device.revoked' && details.deviceId === 'all' ? '_all' : ''}`,
        browser: byDesk ? 'Service Desk' : describeBrowser(r.userAgent),
        ip: r.ip ?? '—',
      };
    });
    return { title: 'Recent activity', events };
  },
  async submit() {
    return { kind: 'retry', status: 405 };
  },
};
