import { renderMessage, type Branding, type Mailer } from '../notify/mail.ts';
import { SmsDeliveryError, type SmsSender } from '../notify/sms.ts';
import { codeMessage, markDeliveryFailed, type CodeChannel, type CodeDeps } from './one-time-codes.ts';

/** What delivering a code uses (the application's `Services` has all of it). */
export interface DeliveryDeps extends Pick<CodeDeps, 'db' | 'clock'> {
  mailer: Mailer;
  sms: SmsSender;
  branding: Branding;
  /** Runs a side effect after the response (services.ts). */
  later(what: string, fn: () => Promise<unknown>): void;
}

/** Where and how one issued code goes. */
export interface CodeDelivery {
  channel: CodeChannel;
  /** The email address or the mobile number (E.164) on the producer record. */
  to: string;
  /** Tag of the SMS (`mfa`, `password_reset`), for the gateway's logs. */
  purpose: string;
  /** The mail (email only): template of views/messages/, subject, and values besides `code` and `minutes`. */
  mail?: { template: string; subject: string; data?: Record<string, unknown> };
  /** Email only: send after the response (`later`) instead of before answering. */
  emailAfterResponse?: boolean;
  /** Called after a failed delivery was recorded (e.g. an audit event); `reason` is the transport's. */
  onFailed?(reason: string): Promise<void>;
}

/** Result of {@link deliverCode}: delivered (or, after the response, queued), or a text that could not be sent. */
export type DeliveryResult = { delivered: true } | { delivered: false; reason: string };

/**
 * THE code-delivery path of the second factor and of Forgot Password (issue 8): sends a code just
 * issued by `issueCode` by email or text, and records a failed delivery the same way for both —
 * `markDeliveryFailed` (the code is voided and its send no longer delays a new one: another channel
 * can be chosen at once) and `onFailed`.
 * - text: awaited; an {@link SmsDeliveryError} answers `{ delivered: false, reason }`;
 * - email: awaited (an SMTP error is recorded, then thrown), or after the response with
 *   `emailAfterResponse` (an SMTP error is recorded and logged by `later`).
 * The body of a text (and the plain part the mails may show) is {@link codeMessage}.
 * @param issued `code`, `codeId` and `ttlSeconds` from issueCode.
 * @throws the transport's other errors (a programming or configuration error); TypeError for an
 *   email delivery without `mail`.
 */
export async function deliverCode(deps: DeliveryDeps, issued: { code: string; codeId: string; ttlSeconds: number }, d: CodeDelivery): Promise<DeliveryResult> {
  const minutes = Math.round(issued.ttlSeconds / 60);
  const text = codeMessage(issued.code, minutes, deps.branding);
  const failed = async (reason: string) => {
    await markDeliveryFailed(deps, issued.codeId);
    await d.onFailed?.(reason);
  };
  if (d.channel === 'sms') {
    try {
      if (!d.to) throw new SmsDeliveryError(deps.sms.provider, 'invalid_number');
      await deps.sms.send({ to: d.to, body: text, purpose: d.purpose });
      return { delivered: true };
    } catch (err) {
      if (!(err instanceof SmsDeliveryError)) throw err;
      await failed(err.reason);
      return { delivered: false, reason: err.reason };
    }
  }
  const mail = d.mail;
  if (!mail) throw new TypeError('an email delivery needs its mail (template and subject)');
  const sendMail = async () => {
    try {
      const msg = await renderMessage(mail.template, d.to, mail.subject, deps.branding, { ...mail.data, code: issued.code, minutes, text });
      await deps.mailer.send(msg);
    } catch (err) {
      await failed('smtp');
      throw err;
    }
  };
  if (d.emailAfterResponse) deps.later(`${d.purpose} code mail`, sendMail);
  else await sendMail();
  return { delivered: true };
}
