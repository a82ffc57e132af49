import { z } from 'zod';
import { audit } from '../../audit.ts';
import { findAccountByUsername, isActive, replacePasswordHash, type Account } from '../../db/repositories/accounts.ts';
import { verificationTicket } from '../../flows/email-verification.ts';
import { renderMessage } from '../../notify/mail.ts';
import { beginAttempt, failAttempt, succeedAttempt } from '../../security/lockout.ts';
import type { Services } from '../../services.ts';
import { field, requestInfo, type StepContext, type StepOutcome } from '../step.ts';

const form = z.object({
  // Control characters (NUL above all, which PostgreSQL refuses) can be in neither.
  username: z.string().trim().min(1, 'username.required').max(200, 'form.too_long').regex(/^[^\p{Cc}]*$/u, 'form.invalid_characters'),
  password: z.string().min(1, 'password.required').max(200, 'form.too_long').regex(/^[^\u0000]*$/, 'form.invalid_characters'),
});

/** Limit names used by sign-in (defined in app.ts). */
export const LOGIN_IP_LIMIT = 'login_ip';
export const LOGIN_UNKNOWN_LIMIT = 'login_unknown';

function view(values: Record<string, unknown>, status: number, formError: string | null, extra: Record<string, unknown> = {}): StepOutcome {
  return { kind: 'render', status, data: { values, formError, ...extra } };
}

/** Mails the account's owner that the account was locked (guide slide 6). */
export async function sendLockMail(services: Services, account: Account): Promise<void> {
  const { config } = services;
  const msg = await renderMessage('account-locked', account.producer.email, `Your ${config.PRODUCT_NAME} account was locked`, services.branding, {
    firstName: account.producer.firstName,
    username: account.username,
    threshold: config.LOCKOUT_THRESHOLD,
    lockMinutes: Math.round(config.LOCKOUT_SECONDS / 60),
    loginUrl: config.PORTAL_URL,
  });
  await services.mailer.send(msg);
}

/**
 * The password part of the `login` prompt: "Log In" (guide slides 6-7): Username, Password. One message for an unknown username and a wrong
 * password, with the same work (a dummy argon2 verification); 5 wrong passwords in a row lock the
 * account for 30 minutes (counted atomically before the comparison); while locked the answer is the
 * same whether or not the password is right. Unknown usernames "lock" the same way (a per-username
 * counter in the rate-limit store), so the lock message does not reveal that an account exists.
 * The email-not-confirmed message is shown only after the correct password.
 */
export const credentials = {
  async viewModel({ ctx, details }: StepContext): Promise<Record<string, unknown>> {
    const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint.slice(0, 40) : '';
    // Notices from self-service flows that return here (?notice=…), from a fixed list only.
    const notice = ({ password_changed: 'login.password_reset_done', unlocked: 'login.unlocked' } as Record<string, string>)[String(ctx.query.notice ?? '')] ?? null;
    return { values: { username: hint }, formError: null, notice };
  },
  /**
   * Checks Username/Password. Returns the page again (with its status and message) or, after the
   * correct password of a usable account, `{ kind: 'password_ok', account }`: the login step then
   * continues with "Verify your Account" (or a remembered device).
   */
  async submit(s: StepContext, body: Record<string, unknown>): Promise<StepOutcome | { kind: 'password_ok'; account: Account }> {
    const { ctx, services, details } = s;
    const { config, clock, db, hasher } = services;
    const info = { ...requestInfo(ctx), clientId: String(details.params.client_id ?? '') };
    const parsed = form.safeParse({ username: field(body, 'username') ?? '', password: field(body, 'password') ?? '' });
    const username = (field(body, 'username') ?? '').slice(0, 40);
    if (!parsed.success) {
      const errors: Record<string, string> = {};
      for (const issue of parsed.error.issues) errors[String(issue.path[0])] ??= issue.message;
      return view({ username }, 422, null, { errors });
    }

    const limited = await services.rateLimits.consume(LOGIN_IP_LIMIT, info.ip);
    if (!limited.allowed) {
      await audit(db, clock, 'rate_limited', null, info, { limit: LOGIN_IP_LIMIT });
      return view({ username }, 429, 'http.rate_limited', { formErrorParams: { minutes: Math.ceil(limited.retryAfterSeconds / 60) } });
    }

    const { password } = parsed.data;
    const policy = { threshold: config.LOCKOUT_THRESHOLD, lockSeconds: config.LOCKOUT_SECONDS };
    const now = clock.now();
    const account = await findAccountByUsername(db, parsed.data.username);

    if (!account) {
      const key = parsed.data.username.toLowerCase().slice(0, 100);
      const counted = await services.rateLimits.consume(LOGIN_UNKNOWN_LIMIT, key);
      await hasher.verifyDummy(password);
      await audit(db, clock, 'login.failure', null, info, { reason: 'unknown_username' });
      if (!counted.allowed || (await services.rateLimits.remaining(LOGIN_UNKNOWN_LIMIT, key)) === 0) {
        return view({ username }, 401, 'login.locked');
      }
      return view({ username }, 401, 'login.invalid_credentials');
    }

    const attempt = await beginAttempt(db, account.id, now, policy);
    if (!attempt.allowed) {
      await hasher.verifyDummy(password);
      await audit(db, clock, 'login.rejected_locked', account.id, info);
      return view({ username }, 401, 'login.locked');
    }

    const ok = await hasher.verify(account.passwordHash, password);
    if (!ok) {
      const lockedNow = await failAttempt(db, account.id, attempt.attempt, now, policy);
      await audit(db, clock, 'login.failure', account.id, info, { reason: 'wrong_password', attempt: attempt.attempt });
      if (lockedNow) {
        await audit(db, clock, 'login.locked', account.id, info, { lockSeconds: config.LOCKOUT_SECONDS });
        services.later('account-locked mail', () => sendLockMail(services, account));
      }
      return view({ username }, 401, attempt.attempt >= policy.threshold ? 'login.locked' : 'login.invalid_credentials');
    }

    await succeedAttempt(db, account.id);
    if (!isActive(account)) {
      await audit(db, clock, 'login.disabled', account.id, info);
      return view({ username }, 403, 'login.disabled');
    }
    if (!account.emailVerifiedAt) {
      await audit(db, clock, 'login.email_not_verified', account.id, info);
      return view({ username }, 403, 'login.email_not_verified', {
        resendTicket: verificationTicket(config.COOKIE_KEYS[0], account.id, now),
      });
    }
    if (hasher.needsRehash(account.passwordHash)) {
      await replacePasswordHash(db, account.id, await hasher.hash(password));
      await audit(db, clock, 'password.rehashed', account.id, info);
    }
    return { kind: 'password_ok', account };
  },
};

