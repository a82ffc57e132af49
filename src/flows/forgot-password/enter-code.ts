import { z } from 'zod';
import { findAccountById } from '../../db/repositories/accounts.ts';
import { isWellFormedCode, normalizeCodeEntry, ONE_TIME_CODE_POLICY } from '../../security/one-time-codes.ts';
import { textField } from '../../steps/fields.ts';
import { checkResetCode } from '../recovery/forgot-password.ts';
import { RECOVERY_IP_LIMIT } from '../recovery/limits.ts';
import { sendCode } from './send.ts';
import type { ResetStep } from './state.ts';

/** Longest code entry accepted (8 characters plus spaces and dashes). */
const MAX_CODE_ENTRY = 64;
const format = 'recovery.code_format';

const input = z.object({
  code: textField(MAX_CODE_ENTRY, { 'form.too_long': format, 'form.invalid_characters': format, check: format }, (v) => isWellFormedCode(normalizeCodeEntry(v))).transform(normalizeCodeEntry),
});

/**
 * Step 3 of 4, "Enter Verification Code" (guide slide 16): the 8-character code → "Continue";
 * "Resend Code" sends a new one through the channel chosen. A wrong code says how many tries are
 * left; the 5th wrong one ends the flow (429); an expired one asks to resend.
 */
export const enterCodeStep: ResetStep<z.infer<typeof input>> = {
  name: 'code',
  path: '/forgot-password/code',
  view: 'idp/forgot-password-code',
  at: ['code'],
  input,
  rateLimit: RECOVERY_IP_LIMIT,
  async model(c) {
    const { channel, destinations } = c.state;
    const destination = channel === 'sms' ? destinations.sms : destinations.email;
    return {
      title: 'Enter Verification Code',
      channel,
      destination,
      noticeParams: { destination: destination ?? '', minutes: Math.round(ONE_TIME_CODE_POLICY.ttlSeconds / 60) },
      loginUrl: await c.loginUrl(),
    };
  },
  greeting: (c) => ({ notice: c.state.channel === 'sms' ? 'recovery.code_sent_sms' : 'recovery.code_sent_email' }),
  async submit(c, { code }) {
    const { state, services } = c;
    const result = await checkResetCode(services, state, code, c.info);
    if (result.ok) {
      const account = state.accountId ? await findAccountById(services.db, state.accountId) : undefined;
      if (!account || account.status !== 'active') return { kind: 'finish', restart: { status: 409, formError: 'recovery.start_over' } };
      return { kind: 'next', state: { ...state, step: 'password', passwordChangedAt: account.passwordChangedAt.toISOString() } };
    }
    if (result.reason === 'wrong') return { kind: 'retry', status: 422, errors: { code: ['recovery.code_wrong'] }, data: { errorParams: { triesLeft: result.triesLeft } } };
    if (result.reason === 'exhausted') return { kind: 'finish', restart: { status: 429, formError: 'recovery.code_exhausted' } };
    return { kind: 'retry', status: 422, formError: 'recovery.code_expired' };
  },
  actions: [
    {
      path: '/forgot-password/code/resend',
      rateLimit: RECOVERY_IP_LIMIT,
      async submit(c) {
        if (!c.state.channel) return { kind: 'finish', restart: { status: 409, formError: 'recovery.start_over' } };
        return sendCode(c, c.state.channel, 'code');
      },
    },
  ],
};
