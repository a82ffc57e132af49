import { z } from 'zod';
import { audit } from '../../../audit.ts';
import { findAccountByUsername, isActive, replacePasswordHash } from '../../../db/repositories/accounts.ts';
import { verificationTicket } from '../../../flows/email-verification.ts';
import { beginAttempt, beginUnknownAttempt, failAttempt, failUnknownAttempt, refundAttempt, unknownLockKey } from '../../../security/lockout.ts';
import { field, type StepResult } from '../../../steps/step.ts';
import type { InteractionState, InteractionStep } from '../../context.ts';
import { afterPassword, sendLockMail, typingPageDue } from './account.ts';

const input = z.object({
  // Control characters (NUL above all, which PostgreSQL refuses) can be in neither.
  username: z.string({ error: 'username.required' }).trim().min(1, 'username.required').max(200, 'form.too_long').regex(/^[^\p{Cc}]*$/u, 'form.invalid_characters'),
  password: z.string({ error: 'password.required' }).min(1, 'password.required').max(200, 'form.too_long').regex(/^[^\u0000]*$/, 'form.invalid_characters'),
});

/** Limit names used by sign-in (defined in app.ts). */
export const LOGIN_IP_LIMIT = 'login_ip';

/** Notices from self-service flows that return here (`?notice=…`), from a fixed list only. */
const NOTICES: Record<string, string> = { password_changed: 'login.password_reset_done', unlocked: 'login.unlocked' };

const refuse = (status: number, formError: string, data?: Record<string, unknown>): StepResult<InteractionState> => ({ kind: 'retry', status, formError, data });

/**
 * The password part of the `login` prompt: "Log In" (guide slides 6-7): Username, Password. One
 * message for an unknown username and a wrong password, with the same work (a dummy argon2
 * verification); 5 wrong passwords in a row lock the account for 30 minutes (counted atomically
 * before the comparison); while locked the answer is the same whether or not the password is right.
 * Unknown usernames "lock" by the same rules (a counter per HMAC of the username in
 * `unknown_login_locks`, security/lockout.ts), so no sequence of attempts and waits reveals that an
 * account exists (issue 9, item 4). A correct password does not clear earlier failures: only a
 * completed sign-in does (account.ts finishLogin; issue 9, item 1). The email-not-confirmed message
 * is shown only after the correct password. Then the typing page, a remembered device, or the factor choice.
 */
export const credentialsStep: InteractionStep<z.infer<typeof input>> = {
  name: 'credentials',
  view: 'idp/login',
  input,
  rateLimit: LOGIN_IP_LIMIT,
  echo: (body) => ({ username: (field(body, 'username') ?? '').slice(0, 40) }),
  async model({ ctx, details }) {
    const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint.slice(0, 40) : '';
    return { values: { username: hint }, formError: null, notice: NOTICES[String(ctx.query.notice ?? '')] ?? null };
  },
  async submit(c, { username, password }) {
    const { services, info } = c;
    const { config, clock, db, hasher } = services;
    const policy = { threshold: config.LOCKOUT_THRESHOLD, lockSeconds: config.LOCKOUT_SECONDS };
    const now = clock.now();
    const account = await findAccountByUsername(db, username);

    if (!account) {
      // The fake lock follows the real lock's rules exactly (security/lockout.ts, issue 9 item 4).
      const key = unknownLockKey(config.COOKIE_KEYS[0], username);
      const fake = await beginUnknownAttempt(db, key, now, policy);
      await hasher.verifyDummy(password);
      if (!fake.allowed) {
        await audit(db, clock, 'login.rejected_locked', null, info, { reason: 'unknown_username' });
        return refuse(401, 'login.locked');
      }
      await failUnknownAttempt(db, key, fake.attempt, now, policy);
      await audit(db, clock, 'login.failure', null, info, { reason: 'unknown_username' });
      return refuse(401, fake.attempt >= policy.threshold ? 'login.locked' : 'login.invalid_credentials');
    }

    const attempt = await beginAttempt(db, account.id, now, policy);
    if (!attempt.allowed) {
      await hasher.verifyDummy(password);
      await audit(db, clock, 'login.rejected_locked', account.id, info);
      return refuse(401, 'login.locked');
    }

    if (!(await hasher.verify(account.passwordHash, password))) {
      const lockedNow = await failAttempt(db, account.id, attempt.attempt, now, policy);
      await audit(db, clock, 'login.failure', account.id, info, { reason: 'wrong_password', attempt: attempt.attempt });
      if (lockedNow) {
        await audit(db, clock, 'login.locked', account.id, info, { lockSeconds: config.LOCKOUT_SECONDS });
        services.later('account-locked mail', () => sendLockMail(services, account));
      }
      return refuse(401, attempt.attempt >= policy.threshold ? 'login.locked' : 'login.invalid_credentials');
    }

    // Not a completed sign-in yet: the attempt is given back, but earlier failures (of any factor)
    // still count until the whole sign-in completes (account.ts finishLogin; issue 9, item 1). A
    // sign-in that completes here (a remembered device) starts the count over instead, in the same
    // UPDATE that records it (issue 12), so the refund is made only when it does not.
    const refunded = async (result: StepResult<InteractionState>) => {
      if (!(result.kind === 'finish' && 'result' in result && result.result.login)) await refundAttempt(db, account.id);
      return result;
    };
    if (!isActive(account)) {
      await refundAttempt(db, account.id);
      await audit(db, clock, 'login.disabled', account.id, info);
      return refuse(403, 'login.disabled');
    }
    if (!account.emailVerifiedAt) {
      await refundAttempt(db, account.id);
      await audit(db, clock, 'login.email_not_verified', account.id, info);
      return refuse(403, 'login.email_not_verified', { resendTicket: verificationTicket(config.COOKIE_KEYS[0], account.id, now) });
    }
    if (hasher.needsRehash(account.passwordHash)) {
      await replacePasswordHash(db, account.id, await hasher.hash(password));
      await audit(db, clock, 'password.rehashed', account.id, info);
    }
    const fresh = { accountId: account.id, stage: 'choose' as const, failures: 0 };
    if (await typingPageDue(c, account)) return refunded({ kind: 'next', state: { ...fresh, stage: 'typing' } });
    let next: StepResult<InteractionState>;
    try {
      next = await afterPassword(c, account, fresh);
    } catch (err) {
      await refundAttempt(db, account.id).catch(() => undefined); // a fault is not a wrong password
      throw err;
    }
    return refunded(next);
  },
};
