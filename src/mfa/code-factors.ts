import { deliverCode } from '../security/code-delivery.ts';
import { issueCode, isWellFormedCode, normalizeCodeEntry, ONE_TIME_CODE_POLICY, verifyCode, voidCodes, type CodeChannel } from '../security/one-time-codes.ts';
import { maskEmail, maskPhone } from '../security/mask.ts';
import type { Account } from '../db/repositories/accounts.ts';
import type { Factor, FactorContext, FactorStart, FactorVerify } from './factor.ts';

const PURPOSE = 'mfa';
const minutes = Math.round(ONE_TIME_CODE_POLICY.ttlSeconds / 60);

function binding(fc: FactorContext, channel: CodeChannel) {
  return { purpose: PURPOSE, subject: `${fc.interactionUid}:${channel}` };
}

/**
 * A one-time-code factor (guide slides 9-10): "Send Code" issues an 8-character code from
 * security/one-time-codes.ts (10 minutes, 5 tries, single use, resend limits), bound to this
 * interaction and channel, and sends it by email to the producer record's address or by SMS to its
 * mobile number. RFC 8176 amr: `otp` for email, `sms` for text.
 */
function codeFactor(channel: CodeChannel): Factor {
  const isSms = channel === 'sms';
  const destination = (a: Account) => (isSms ? a.producer.mobilePhone ?? '' : a.producer.email);
  return {
    id: channel,
    amr: isSms ? 'sms' : 'otp',
    kind: 'code',
    strong: true,
    label: isSms ? 'Verify Account by SMS Text' : 'Verify Account by Email',
    async available(account) {
      return isSms ? !!account.producer.mobilePhone : true;
    },
    describe(account) {
      return isSms
        ? `Send verification code in a SMS Text to ${maskPhone(destination(account))}`
        : `Send verification code in an email to ${maskEmail(destination(account))}`;
    },
    async start(fc): Promise<FactorStart> {
      const { services, account } = fc;
      const issued = await issueCode(services, { ...binding(fc, channel), accountId: account.id, channel });
      if (!issued.issued) {
        return issued.reason === 'resend_too_soon'
          ? { ok: false, error: 'mfa.resend_too_soon', errorParams: { seconds: issued.retryAfterSeconds } }
          : { ok: false, error: 'mfa.hourly_limit', errorParams: { minutes: Math.ceil(issued.retryAfterSeconds / 60) } };
      }
      const masked = isSms ? maskPhone(destination(account)) : maskEmail(destination(account));
      const delivery = await deliverCode(services, issued, {
        channel,
        to: destination(account),
        purpose: PURPOSE,
        mail: { template: 'verification-code', subject: `Your ${services.config.PRODUCT_NAME} verification code`, data: { firstName: account.producer.firstName } },
        onFailed: async (reason) => services.logger.warn({ reason, provider: isSms ? services.sms.provider : 'smtp' }, `mfa ${channel} not delivered`),
      });
      if (!delivery.delivered) return { ok: false, error: 'mfa.sms_failed' };
      return { ok: true, notice: isSms ? 'mfa.code_sent_sms' : 'mfa.code_sent_email', noticeParams: { destination: masked, minutes } };
    },
    async verify(fc, body): Promise<FactorVerify> {
      const raw = typeof body.code === 'string' ? body.code : '';
      if (raw.length > 64 || !isWellFormedCode(normalizeCodeEntry(raw))) return { ok: false, error: 'mfa.code_format', countsAsFailure: false };
      const result = await verifyCode(fc.services, { ...binding(fc, channel), input: raw });
      if (result.ok) return { ok: true };
      if (result.reason === 'wrong') return { ok: false, error: 'mfa.code_wrong', errorParams: { triesLeft: result.triesLeft }, countsAsFailure: true };
      if (result.reason === 'exhausted') return { ok: false, error: 'mfa.code_exhausted', countsAsFailure: true, endInteraction: true };
      return { ok: false, error: 'mfa.code_expired', countsAsFailure: false, restart: true };
    },
    async cancel(fc) {
      await voidCodes(fc.services, binding(fc, channel));
    },
  };
}

/** "Verify Account by Email" (always available). */
export const emailFactor = codeFactor('email');
/** "Verify Account by SMS Text" (only with a mobile number on the producer record). */
export const smsFactor = codeFactor('sms');
