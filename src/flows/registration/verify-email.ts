import { findProducer } from '../../db/repositories/producers.ts';
import { maskEmail } from '../../security/mask.ts';
import { minutesOf } from '../../steps/engine.ts';
import { sendVerificationEmail } from '../email-verification.ts';
import type { RegistrationStep } from './state.ts';

/**
 * Step 3 of 3, "Verify Your Email" (guide slide 5): says where the link was sent (the masked email
 * of the producer record); "Resend Email Link" sends a new link (earlier ones stop working), at
 * most MAIL_SENDS_PER_HOUR per hour (429). The link itself is GET /verify-email (links.ts).
 */
export const verifyEmailStep: RegistrationStep = {
  name: 'verify',
  path: '/register/verify-email',
  view: 'idp/register-verify',
  postPath: null,
  at: ['verify'],
  async model(c) {
    const record = c.state.producerNumber ? await findProducer(c.services.db, c.state.producerNumber) : undefined;
    const masked = record ? maskEmail(record.email) : '';
    return { title: 'Verify Your Email', maskedEmail: masked, noticeParams: { email: masked }, loginUrl: await c.loginUrl() };
  },
  async submit() {
    return { kind: 'retry', status: 405, formError: 'http.bad_request' }; // never mounted (postPath null)
  },
  actions: [
    {
      path: '/register/verify-email/resend',
      async submit(c) {
        if (!c.state.accountId) return { kind: 'finish', restart: { status: 409, formError: 'register.flow_expired' } };
        const result = await sendVerificationEmail(c.services, c.state.accountId, c.info);
        if (result.sent) return { kind: 'retry', status: 200, data: { notice: 'verify_email.resent' } };
        if (result.reason === 'limited') return { kind: 'retry', status: 429, formError: 'verify_email.resend_limited', formErrorParams: { minutes: minutesOf(result.retryAfterSeconds) } };
        return { kind: 'retry', status: 200, data: { notice: 'verify_email.confirmed' } };
      },
    },
  ],
};
