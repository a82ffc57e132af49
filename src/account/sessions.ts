import { audit } from '../audit.ts';
import { endOtherSessions } from '../oidc/revocation.ts';
import { forgetOtherSessions, listSignedInSessions } from './activity.ts';
import { describeBrowser } from './browser.ts';
import { doneAt, formatTime, type AccountPage } from './pages.ts';

const PATH = '/account/sessions';

/**
 * "Signed-in sessions" (issue 14 item 6): the account's live IdP sessions, this browser's first,
 * each with its browser, when it signed in and its last activity (src/account/activity.ts). "Sign
 * out of the others" ends every other session and every grant and token not held by this session
 * (src/oidc/revocation.ts `endOtherSessions`, with back-channel logout to their relying parties),
 * audited `account.sessions_ended`; this browser stays signed in. Needs a recent sign-in.
 */
export const sessionsPage: AccountPage = {
  name: 'sessions',
  path: PATH,
  view: 'idp/account-sessions',
  postsHere: false,
  notices: { signed_out: 'account.sessions_ended' },
  async model({ services, state }) {
    const sessions = (await listSignedInSessions(services.db, state.accountId, state.sessionUid)).map((s) => ({
      current: s.current,
      browser: describeBrowser(s.userAgent),
      signedInAt: s.signedInAt ? formatTime(s.signedInAt) : 'Unknown',
      lastActiveAt: s.lastActiveAt ? formatTime(s.lastActiveAt) : 'Unknown',
    }));
    return { title: 'Signed-in sessions', sessions, others: sessions.filter((s) => !s.current).length };
  },
  async submit() {
    return { kind: 'retry', status: 405 };
  },
  actions: [
    {
      path: `${PATH}/sign-out-others`,
      async submit({ services, state, info }) {
        const { db, clock } = services;
        const removed = await db.transaction().execute(async (trx) => {
          const n = await endOtherSessions(trx, state.accountId, state.sessionId, 'signed_out_others');
          await forgetOtherSessions(trx, state.accountId, state.sessionUid);
          return n;
        });
        await audit(db, clock, 'account.sessions_ended', state.accountId, info, { removed, by: 'owner' });
        return doneAt(PATH, 'signed_out');
      },
    },
  ],
};
