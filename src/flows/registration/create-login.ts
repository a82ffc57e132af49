import { z } from 'zod';
import { audit } from '../../audit.ts';
import { insertAccount, producerHasAccount, usernameTaken } from '../../db/repositories/accounts.ts';
import { activeTerms } from '../../db/repositories/terms.ts';
import { checkPassword, PASSWORD_RULES } from '../../security/password-policy.ts';
import { randomToken } from '../../security/tokens.ts';
import { checkUsername } from '../../security/username-policy.ts';
import { anyText } from '../../steps/fields.ts';
import { field } from '../../steps/step.ts';
import { sendVerificationEmail } from '../email-verification.ts';
import { MAX_FIELD, REGISTER_IP_LIMIT, type RegistrationContext, type RegistrationStep } from './state.ts';

/**
 * The fields and their rules (username and password policies). Whether the username is taken is
 * NOT asked here: input is checked before the step's rate limit, so a check here would tell anyone
 * which usernames exist without limit. {@link takenUsername} asks it in `submit`, after the limit.
 * Also the rules of a delegate's login (src/delegates/invitation.ts, issue 14 item 2).
 */
export const createLoginSchema = () =>
  z
    .object({ username: anyText, password: anyText })
    .superRefine(({ username, password }, ctx) => {
      const u = username.length > MAX_FIELD ? ['username.too_long'] : checkUsername(username);
      const p = password.length > MAX_FIELD ? ['password.length'] : checkPassword(password, { username });
      for (const message of u) ctx.addIssue({ code: 'custom', message, path: ['username'] });
      for (const message of p) ctx.addIssue({ code: 'custom', message, path: ['password'] });
    });

/**
 * The field message of a username already taken (ignoring case): 422 with `username.taken`, or
 * undefined when it is free. Call from `submit` of a step whose `rateLimit` is REGISTER_IP_LIMIT
 * (every question counts against the client address: no free username oracle).
 */
export async function takenUsername(db: RegistrationContext['services']['db'], username: string): Promise<{ kind: 'retry'; status: 422; errors: { username: string[] } } | undefined> {
  return (await usernameTaken(db, username)) ? { kind: 'retry', status: 422, errors: { username: ['username.taken'] } } : undefined;
}

/**
 * The form of "Create Your Secure Login" (guide slide 4) as a step declares it, shared by a
 * producer's registration and an invited delegate's: its view, the username and password schema,
 * the per-address limit under which whether a username is taken is asked, and the username typed
 * back after a refusal. Each flow adds its path, model and submit.
 */
export const CREATE_LOGIN_FORM = {
  name: 'login',
  view: 'idp/register-login',
  at: ['login'] as ['login'],
  input: createLoginSchema(),
  rateLimit: REGISTER_IP_LIMIT,
  echo: (body: Record<string, unknown>) => ({ username: (field(body, 'username') ?? '').slice(0, 40) }),
};

/**
 * Step 2 of 3, "Create Your Secure Login" (guide slide 4): the username and password rules
 * (security/username-policy.ts, password-policy.ts; the page shows Must Have / Cannot Have), a
 * username not yet taken (ignoring case; asked after the per-address limit REGISTER_IP_LIMIT, 429
 * with Retry-After beyond it), and the Terms of Use version accepted at the start still
 * active (else back to the terms, 409). Creates the account and sends the confirmation mail.
 */
export const createLoginStep: RegistrationStep<{ username: string; password: string }> = {
  ...CREATE_LOGIN_FORM,
  path: '/register/login',
  async model() {
    return { title: 'Create Your Secure Login', rules: PASSWORD_RULES };
  },
  async submit(c, { username, password }) {
    const { services, state } = c;
    const { db, clock } = services;
    if (!state.producerNumber || !state.termsVersion) return { kind: 'finish', restart: { status: 409, formError: 'register.flow_expired' } };
    const taken = await takenUsername(db, username);
    if (taken) return taken;
    const terms = await activeTerms(db);
    if (!terms || terms.version !== state.termsVersion) {
      // A new version was published meanwhile: accept it first.
      return { kind: 'retry', status: 409, formError: 'terms.must_accept', state: { ...state, step: 'terms' }, data: { view: 'idp/terms', title: 'Terms of Use', terms, mode: 'register' } };
    }
    const passwordHash = await services.hasher.hash(password);
    const accountId = randomToken(16);
    try {
      const producerNumber = state.producerNumber;
      await db.transaction().execute((trx) => insertAccount(trx, { id: accountId, username, producerNumber, passwordHash, termsVersion: terms.version, now: clock.now() }));
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw err;
      const already = await producerHasAccount(db, state.producerNumber);
      return already
        ? { kind: 'retry', status: 409, formError: 'register.already_registered' }
        : { kind: 'retry', status: 409, errors: { username: ['username.taken'] } };
    }
    await audit(db, clock, 'registration.account_created', accountId, c.info, { producerNumber: state.producerNumber, termsVersion: terms.version });
    await audit(db, clock, 'terms.accepted', accountId, c.info, { version: terms.version, during: 'registration' });
    await sendVerificationEmail(services, accountId, c.info);
    return { kind: 'next', state: { ...state, step: 'verify', accountId } };
  },
};
