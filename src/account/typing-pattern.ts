import { audit } from '../audit.ts';
import { findProfile } from '../db/repositories/keystroke.ts';
import { revokeDeviceRows } from '../db/repositories/trusted-devices.ts';
import { resetProfile } from '../mfa/keystroke.ts';
import { renderMessage } from '../notify/mail.ts';
import { doneAt, formatTime, type AccountPage } from './pages.ts';

const PATH = '/account/typing-pattern';

/**
 * "Typing pattern" (issue 14 item 6; guide slides 8 and 11, "reset the typing DNA"): whether the
 * account has a typing pattern and when it last changed. "Reset typing pattern" removes it (the
 * template and presented samples, as the CLI `keystroke reset`) and the remembered devices that
 * skip the typing page, so the next sign-in shows the typing page and enrolls again; audited
 * `keystroke.reset` (`by: owner`); the owner gets a mail. Needs a recent sign-in.
 */
export const typingPatternPage: AccountPage = {
  name: 'typing-pattern',
  path: PATH,
  view: 'idp/account-typing-pattern',
  postsHere: false,
  notices: { reset: 'account.typing_pattern_reset' },
  async model({ services, state }) {
    const profile = await findProfile(services.db, state.accountId);
    return {
      title: 'Typing pattern',
      enrolled: !!profile,
      updatedAt: profile ? formatTime(profile.updatedAt) : null,
      offered: services.config.MFA_FACTORS.includes('keystroke'),
    };
  },
  async submit() {
    return { kind: 'retry', status: 405 };
  },
  actions: [
    {
      path: `${PATH}/reset`,
      async submit({ services, state, info }) {
        const { db, clock, config } = services;
        const now = clock.now();
        const removed = await db.transaction().execute(async (trx) => {
          const had = await resetProfile(trx, state.accountId);
          await revokeDeviceRows(trx, state.accountId, now, undefined, 'typing');
          return had;
        });
        if (!removed) return { kind: 'retry', status: 409, formError: 'account.typing_pattern_none' };
        await audit(db, clock, 'keystroke.reset', state.accountId, info, { by: 'owner' });
        const account = state.account;
        services.later('typing-pattern reset mail', async () => {
          const msg = await renderMessage('typing-pattern-reset', account.producer.email, `The typing pattern of your ${config.PRODUCT_NAME} account was reset`, services.branding, {
            firstName: account.producer.firstName,
            username: account.username,
            changedAt: now.toUTCString(),
            loginUrl: config.PORTAL_URL,
          });
          await services.mailer.send(msg);
        });
        return doneAt(PATH, 'reset');
      },
    },
  ],
};
