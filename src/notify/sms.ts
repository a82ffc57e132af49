import { createHmac } from 'node:crypto';
import { ConfigError, resolveSmsProvider, smsSettingProblems, type Config, type SmsProvider } from '../config/index.ts';
import type { OutboxEntry } from './mail.ts';

/** One outgoing text message. */
export interface SmsMessage {
  /** Recipient, E.164 (`+` then 2 to 15 digits, e.g. `+13125550101`). */
  to: string;
  /** The text (e.g. from `codeMessage`); it carries a secret, so it is never logged. */
  body: string;
  /** Why it is sent, e.g. `password_reset` (passed to the webhook; not shown to the person). */
  purpose: string;
}

/**
 * Sends text messages. `send` resolves when the gateway accepted the message (2xx); it throws
 * {@link SmsDeliveryError} otherwise, so the page can offer another channel.
 */
export interface SmsSender {
  /** The transport in use. */
  readonly provider: SmsProvider;
  send(message: SmsMessage): Promise<void>;
  /** The development outbox the messages go to (only for `outbox`). */
  outbox?: OutboxEntry[];
}

/** Why a text message was not delivered. */
export type SmsFailure = 'invalid_number' | 'timeout' | 'network' | 'rejected';

/**
 * A text message could not be handed to the gateway: the number is not E.164 (`invalid_number`),
 * the gateway did not answer within SMS_TIMEOUT_MS (`timeout`), could not be reached (`network`),
 * or answered with a non-2xx status (`rejected`, with `status` and, for Twilio, its error `providerCode`).
 * The message never contains the text or the number. Pages map it to "we could not send the text
 * message; try email".
 */
export class SmsDeliveryError extends Error {
  readonly provider: SmsProvider;
  readonly reason: SmsFailure;
  readonly status: number | undefined;
  readonly providerCode: string | number | undefined;
  constructor(provider: SmsProvider, reason: SmsFailure, details: { status?: number; providerCode?: string | number; cause?: unknown } = {}) {
    const status = details.status === undefined ? '' : ` (HTTP ${details.status}${details.providerCode === undefined ? '' : `, code ${details.providerCode}`})`;
    super(`SMS not delivered by ${provider}: ${reason}${status}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SmsDeliveryError';
    this.provider = provider;
    this.reason = reason;
    this.status = details.status;
    this.providerCode = details.providerCode;
  }
}

/** An E.164 number: `+`, a non-zero digit, then up to 14 more digits (ITU-T E.164). */
export const E164 = /^\+[1-9][0-9]{1,14}$/;

/**
 * The webhook signature: HMAC-SHA256 of the exact raw request body (UTF-8) under
 * SMS_WEBHOOK_SECRET, lower-case hex. Sent as `X-Signature-SHA256`; the gateway recomputes it over
 * the bytes it received and compares in constant time.
 */
export function webhookSignature(secret: string, rawBody: string): string {
  return createHmac('sha256', secret).update(rawBody, 'utf8').digest('hex');
}

/** The settings {@link createSmsSender} reads. */
export type SmsConfig = Pick<Config, 'NODE_ENV' | 'SMS_TIMEOUT_MS' | 'TWILIO_API_BASE'> &
  Partial<Pick<Config, 'SMS_PROVIDER' | 'SMS_WEBHOOK_URL' | 'SMS_WEBHOOK_SECRET' | 'TWILIO_ACCOUNT_SID' | 'TWILIO_AUTH_TOKEN' | 'TWILIO_FROM'>>;

/**
 * Builds the SMS transport chosen by SMS_PROVIDER (see `resolveSmsProvider` when unset):
 * - `outbox` (development and tests): each message is put at the front of `outbox` — pass the
 *   Mailer's `outbox` so mail and SMS show together at /dev/outbox — as an entry with channel
 *   `sms`, subject `SMS`, the body as `text` and html `''` (last 200 kept). Without `outbox`, a new
 *   array is used (exposed as `sender.outbox`).
 * - `webhook`: POST SMS_WEBHOOK_URL with JSON `{to, body, purpose}` and `X-Signature-SHA256`
 *   ({@link webhookSignature}); redirects are not followed.
 * - `twilio`: POST {TWILIO_API_BASE}/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json,
 *   form-encoded `To`, `From` (TWILIO_FROM), `Body`, HTTP Basic auth SID:token (Twilio Messages API).
 * Gateways must answer 2xx within SMS_TIMEOUT_MS milliseconds (the whole exchange, body included).
 * @throws ConfigError when the chosen transport lacks a setting, or `outbox` is used in production.
 */
export function createSmsSender(config: SmsConfig, outbox?: OutboxEntry[]): SmsSender {
  const production = config.NODE_ENV === 'production';
  const provider = config.SMS_PROVIDER ?? resolveSmsProvider(config);
  const problems = smsSettingProblems({ ...config, SMS_PROVIDER: provider }, production);
  if (production && provider === 'outbox') problems.push('SMS_PROVIDER (production does not use the development outbox)');
  if (problems.length) throw new ConfigError(`Invalid SMS configuration:\n  ${problems.join('\n  ')}`);
  const timeoutMs = config.SMS_TIMEOUT_MS;

  if (provider === 'webhook') {
    const url = config.SMS_WEBHOOK_URL!;
    const secret = config.SMS_WEBHOOK_SECRET!;
    return {
      provider,
      async send(m) {
        checkNumber(provider, m.to);
        const raw = JSON.stringify({ to: m.to, body: m.body, purpose: m.purpose });
        await post(provider, url, timeoutMs, {
          'content-type': 'application/json',
          'x-signature-sha256': webhookSignature(secret, raw),
        }, raw);
      },
    };
  }

  if (provider === 'twilio') {
    const sid = config.TWILIO_ACCOUNT_SID!;
    const url = `${config.TWILIO_API_BASE.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(sid)}/Messages.json`;
    const authorization = `Basic ${Buffer.from(`${sid}:${config.TWILIO_AUTH_TOKEN!}`, 'utf8').toString('base64')}`;
    const from = config.TWILIO_FROM!;
    return {
      provider,
      async send(m) {
        checkNumber(provider, m.to);
        const form = new URLSearchParams({ To: m.to, From: from, Body: m.body });
        await post(provider, url, timeoutMs, {
          'content-type': 'application/x-www-form-urlencoded',
          authorization,
          accept: 'application/json',
        }, form.toString());
      },
    };
  }

  const box = outbox ?? [];
  return {
    provider,
    outbox: box,
    async send(m) {
      checkNumber(provider, m.to);
      const id = box.reduce((max, e) => Math.max(max, e.id), 0) + 1;
      box.unshift({ id, channel: 'sms', to: m.to, subject: 'SMS', text: m.body, html: '', at: new Date() });
      box.length = Math.min(box.length, 200);
    },
  };
}

function checkNumber(provider: SmsProvider, to: string): void {
  if (typeof to !== 'string' || !E164.test(to)) throw new SmsDeliveryError(provider, 'invalid_number');
}

/** POSTs `body`; resolves on 2xx, throws SmsDeliveryError on anything else (the text is never in the error). */
async function post(provider: SmsProvider, url: string, timeoutMs: number, headers: Record<string, string>, body: string): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  let status: number;
  let answer: string;
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'user-agent': 'producer-idp', ...headers }, body, signal, redirect: 'error' });
    status = res.status;
    answer = await res.text();
  } catch (err) {
    throw new SmsDeliveryError(provider, signal.aborted ? 'timeout' : 'network', { cause: signal.aborted ? undefined : err });
  }
  if (status >= 200 && status < 300) return;
  let providerCode: string | number | undefined;
  if (provider === 'twilio') {
    try {
      const code = (JSON.parse(answer) as { code?: unknown }).code;
      if (typeof code === 'number' || typeof code === 'string') providerCode = code;
    } catch {
      // not JSON: the status is enough
    }
  }
  throw new SmsDeliveryError(provider, 'rejected', { status, providerCode });
}
