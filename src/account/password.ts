import { z } from 'zod';
import { audit } from '../audit.ts';
import { findAccountById, lockAccountRow, setPasswordWithHistory, type Account } from '../db/repositories/accounts.ts';
import { revokeDeviceRows } from '../db/repositories/trusted-devices.ts';
import { mailPasswordChanged, PASSWORD_HISTORY_DEPTH, passwordWasUsed } from '../flows/recovery/forgot-password.ts';
import { LOGIN_IP_LIMIT } from '../interactions/steps/login/index.ts';
import { sendLockMail } from '../interactions/steps/login/account.ts';
import { endOtherSessions } from '../oidc/revocation.ts';
import { beginAttempt, failAttempt, refundAttempt } from '../security/lockout.ts';
import { checkPassword, PASSWORD_RULES } from '../security/password-policy.ts';
import { anyText } from '../steps/fields.ts';
import { forgetOtherSessions } from './activity.ts';
import { doneAt, type AccountContext, type AccountPage } from './pages.ts';

const PATH = '/account/password';
/** Longest password accepted before the policy check (the policy allows 40). */
const MAX_PASSWORD = 200;

const input = z.object({ current_password: anyText, password: anyText });

/**
 * The current password, counted like a sign-in attempt (src/security/lockout.ts: the attempt is
 * counted atomically before the comparison; LOCKOUT_THRESHOLD wrong ones lock the account, with the
 * lock mail). A right one gives the attempt back.
 * @returns null when right, else the message code to show.
 */
async function checkCurrentPassword(c: AccountContext, account: Account, password: string): Promise<string | null> {
  const { services, info } = c;
  const { db, clock, config, hasher } = services;
  const policy = { threshold: config.LOCKOUT_THRESHOLD, lockSeconds: config.LOCKOUT_SECONDS };
  const now = clock.now();
  const attempt = await beginAttempt(db, account.id, now, policy);
  if (!attempt.allowed) {
    await hasher.verifyDummy(password);
    return 'login.locked';
  }
  if (await hasher.verify(account.passwordHash, password)) {
    await refundAttempt(db, account.id);
    return null;
  }
  const locked = await failAttempt(db, account.id, attempt.attempt, now, policy);
  await audit(db, clock, 'account.password_change_failed', account.id, info, { reason: 'wrong_current_password', attempt: attempt.attempt });
  if (locked) {
    await audit(db, clock, 'login.locked', account.id, info, { lockSeconds: config.LOCKOUT_SECONDS, via: 'change_password' });
    services.later('account-locked mail', () => sendLockMail(services, account));
    return 'login.locked';
  }
  return 'account.current_password_wrong';
}

/**
 * "Change Password" (issue 14 item 6): Current Password, then New Password with the registration
 * rules and their Must Have / Cannot Have checklist (guide slide 4), not one of the last 10
 * passwords (slide 17). On success, in one transaction: the new argon2id hash and history, every
 * other session, grant and token ended (this browser stays signed in; endOtherSessions, with
 * back-channel logout), and every remembered device revoked, as a reset does (slides 12-17);
 * audited `account.password_changed`; the owner gets a mail. Refusals: wrong current password 422
 * (counted towards the lockout), a rule broken or a reused password 422 with the field message.
 * The page itself needs a recent sign-in (ACCOUNT_REAUTH_SECONDS), as does the change.
 */
export const passwordPage: AccountPage<z.infer<typeof input>> = {
  name: 'password',
  path: PATH,
  view: 'idp/account-password',
  recentAuthToView: true,
  input,
  rateLimit: LOGIN_IP_LIMIT,
  notices: { changed: 'account.password_changed' },
  async model() {
    return { title: 'Change Password', rules: PASSWORD_RULES };
  },
  async submit(c, { current_password: current, password }) {
    const { services, state, info } = c;
    const { db, clock, hasher } = services;
    const account = await findAccountById(db, state.accountId);
    if (!account) return { kind: 'retry', status: 409, formError: 'account.signin_incomplete' };
    const wrong = current.length > MAX_PASSWORD ? 'account.current_password_wrong' : await checkCurrentPassword(c, account, current);
    if (wrong) return { kind: 'retry', status: wrong === 'login.locked' ? 423 : 422, errors: { current_password: [wrong] } };
    const problems = password.length > MAX_PASSWORD ? ['password.length'] : checkPassword(password, { username: account.username });
    if (problems.length) return { kind: 'retry', status: 422, errors: { password: problems } };
    if (await passwordWasUsed(services, account.id, password)) return { kind: 'retry', status: 422, errors: { password: ['recovery.password_reused'] } };
    const phc = await hasher.hash(password);
    const now = clock.now();
    const done = await db.transaction().execute(async (trx) => {
      const row = await lockAccountRow(trx, account.id);
      // Another change since the page read the account (a second submit): refuse, nothing written.
      if (!row || row.status !== 'active' || row.passwordChangedAt.getTime() !== account.passwordChangedAt.getTime()) return undefined;
      await setPasswordWithHistory(trx, account.id, phc, now, { keep: PASSWORD_HISTORY_DEPTH, emailProven: false });
      const oidcRecords = await endOtherSessions(trx, account.id, state.sessionId, 'password_changed');
      await forgetOtherSessions(trx, account.id, state.sessionUid);
      const devices = await revokeDeviceRows(trx, account.id, now);
      return { oidcRecords, devices };
    });
    if (!done) return { kind: 'retry', status: 409, formError: 'account.password_changed_meanwhile' };
    await audit(db, clock, 'account.password_changed', account.id, info, { by: 'owner', ...done });
    mailPasswordChanged(services, account.id, now, 'account-password-changed');
    return doneAt(PATH, 'changed');
  },
};
