import { z } from 'zod';
import { audit } from '../audit.ts';
import { setOwnMobile } from '../db/repositories/accounts.ts';
import { voidLiveCodesOfAccount } from '../db/repositories/one-time-codes.ts';
import { renderMessage } from '../notify/mail.ts';
import { normalizePhone } from '../producers/records.ts';
import { deliverCode } from '../security/code-delivery.ts';
import { maskPhone } from '../security/mask.ts';
import { issueCode, ONE_TIME_CODE_POLICY, verifyCode } from '../security/one-time-codes.ts';
import type { Services } from '../services.ts';
import { anyText } from '../steps/fields.ts';
import type { StepResult } from '../steps/step.ts';
import { doneAt, type AccountContext, type AccountPage } from './pages.ts';
import type { AccountSession } from './session.ts';

const PATH = '/account/mobile';
/** The code's purpose (one_time_codes): confirming a delegate's own mobile number. */
const PURPOSE = 'mobile_confirm';
/** Longest entry accepted before parsing (a phone number has at most 15 digits plus notation). */
const MAX_ENTRY = 40;

const numberInput = z.object({ mobile: anyText });
const confirmInput = z.object({ mobile: anyText, code: anyText });

/** The code of a number is bound to the account AND the number: a code texted to one number never confirms another. */
const subjectOf = (accountId: string, e164: string) => `${accountId}:${e164}`;

/** Mails the owner that their mobile number for text codes was added or removed (after the response). */
function mailMobileChanged(services: Services, s: AccountSession, change: 'added' | 'removed', e164: string): void {
  const { config } = services;
  const account = s.account;
  services.later('mobile-number mail', async () => {
    const msg = await renderMessage('account-mobile-changed', account.producer.email, `A mobile number was ${change} on your ${config.PRODUCT_NAME} account`, services.branding, {
      firstName: account.producer.firstName,
      username: account.username,
      change,
      masked: maskPhone(e164),
      loginUrl: config.PORTAL_URL,
    });
    await services.mailer.send(msg);
  });
}

/** A producer's number belongs to the carrier's producer record; only a delegate keeps their own. */
function ownNumberAllowed(c: AccountContext): boolean {
  return c.state.account.kind === 'delegate';
}

/**
 * Texts a code to `e164` for the account (the limits of every code: 30 s between sends, 5 an hour,
 * 10 minutes, 5 tries — ONE_TIME_CODE_POLICY) and answers with the code's page.
 */
async function sendCode(c: AccountContext, e164: string): Promise<StepResult<AccountSession>> {
  const { services, state, info } = c;
  const issued = await issueCode(services, { purpose: PURPOSE, subject: subjectOf(state.accountId, e164), limitSubject: state.accountId, accountId: state.accountId, channel: 'sms' });
  // A code for one number voids the codes sent to any other: only the number asked for last can be confirmed.
  if (issued.issued) await voidLiveCodesOfAccount(services.db, PURPOSE, state.accountId, services.clock.now(), issued.codeId);
  if (!issued.issued) {
    return { kind: 'retry', status: 429, formError: issued.reason === 'resend_too_soon' ? 'account.mobile_wait' : 'account.mobile_hourly', formErrorParams: { seconds: issued.retryAfterSeconds }, data: { values: { mobile: e164 } } };
  }
  const sent = await deliverCode(services, issued, {
    channel: 'sms',
    to: e164,
    purpose: PURPOSE,
    onFailed: (reason) => audit(services.db, services.clock, 'account.mobile_code_failed', state.accountId, info, { reason }),
  });
  if (!sent.delivered) return { kind: 'retry', status: 422, errors: { mobile: ['account.mobile_not_sent'] }, data: { values: { mobile: e164 } } };
  await audit(services.db, services.clock, 'account.mobile_code_sent', state.accountId, info, { to: maskPhone(e164) });
  return { kind: 'finish', redirect: `${PATH}?confirm=${encodeURIComponent(e164)}` };
}

/**
 * "Mobile number" (issue 14 item 3: a delegate gets text codes at sign-in only for a mobile number
 * they gave and confirmed with a code). A delegate enters a number (any common notation; read as a
 * US number without `+`), **Send Code** texts an 8-character code to it, and entering the code
 * (**Confirm**) stores it as the account's number: from then on Verify your Account offers "by SMS
 * Text" to it. **Remove** takes it away. Each change needs a recent sign-in, is audited
 * (`account.mobile_confirmed`, `account.mobile_removed`) and mailed to the owner. A producer's
 * number is the carrier's producer record's: the page shows it and explains how to change it.
 */
export const mobilePage: AccountPage<z.infer<typeof numberInput>> = {
  name: 'mobile',
  path: PATH,
  view: 'idp/account-mobile',
  input: numberInput,
  echo: (body) => ({ mobile: typeof body.mobile === 'string' ? body.mobile.slice(0, MAX_ENTRY) : '' }),
  notices: { confirmed: 'account.mobile_confirmed', removed: 'account.mobile_removed' },
  async model(c) {
    const { ctx, state, services } = c;
    const current = state.account.producer.mobilePhone;
    const confirm = typeof ctx.query.confirm === 'string' ? normalizePhone(ctx.query.confirm.slice(0, MAX_ENTRY)) : null;
    return {
      title: 'Mobile number',
      own: ownNumberAllowed(c),
      current: current ? maskPhone(current) : null,
      confirm: ownNumberAllowed(c) && confirm ? { e164: confirm, masked: maskPhone(confirm) } : null,
      minutes: Math.round(ONE_TIME_CODE_POLICY.ttlSeconds / 60),
      smsOffered: services.config.MFA_FACTORS.includes('sms'),
      helpDeskPhone: services.branding.helpDeskPhone,
    };
  },
  async submit(c, { mobile }) {
    if (!ownNumberAllowed(c)) return { kind: 'retry', status: 403, formError: 'account.mobile_from_record' };
    const e164 = mobile.length <= MAX_ENTRY ? normalizePhone(mobile) : null;
    if (!e164) return { kind: 'retry', status: 422, errors: { mobile: ['account.mobile_invalid'] } };
    return sendCode(c, e164);
  },
  actions: [
    {
      path: `${PATH}/confirm`,
      input: confirmInput,
      async submit(c, input) {
        const { mobile, code } = input as z.infer<typeof confirmInput>;
        const { services, state, info } = c;
        if (!ownNumberAllowed(c)) return { kind: 'retry', status: 403, formError: 'account.mobile_from_record' };
        const e164 = mobile.length <= MAX_ENTRY ? normalizePhone(mobile) : null;
        if (!e164) return { kind: 'retry', status: 422, formError: 'account.mobile_start_again' };
        const result = await verifyCode(services, { purpose: PURPOSE, subject: subjectOf(state.accountId, e164), input: code.slice(0, 100) });
        if (!result.ok) {
          // A wrong code: the code page again with the tries left; used up or expired: send a new one.
          if (result.reason === 'wrong') return { kind: 'retry', status: 422, errors: { code: ['mfa.code_wrong'] }, data: { errorParams: { triesLeft: result.triesLeft }, confirm: { e164, masked: maskPhone(e164) } } };
          return { kind: 'retry', status: 422, formError: result.reason === 'exhausted' ? 'account.mobile_code_exhausted' : 'account.mobile_code_expired' };
        }
        if (!(await setOwnMobile(services.db, state.accountId, e164, services.clock.now()))) return { kind: 'retry', status: 409, formError: 'account.mobile_from_record' };
        await audit(services.db, services.clock, 'account.mobile_confirmed', state.accountId, info, { to: maskPhone(e164) });
        mailMobileChanged(services, state, 'added', e164);
        return doneAt(PATH, 'confirmed');
      },
    },
    {
      path: `${PATH}/remove`,
      async submit(c) {
        const { services, state, info } = c;
        const current = state.account.producer.mobilePhone;
        if (!ownNumberAllowed(c) || !current) return { kind: 'retry', status: 409, formError: 'account.mobile_none' };
        await setOwnMobile(services.db, state.accountId, null, services.clock.now());
        await audit(services.db, services.clock, 'account.mobile_removed', state.accountId, info, { to: maskPhone(current) });
        mailMobileChanged(services, state, 'removed', current);
        return doneAt(PATH, 'removed');
      },
    },
  ],
};
