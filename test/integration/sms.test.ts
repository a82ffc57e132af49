import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { createMailer } from '../../src/notify/mail.ts';
import { createSmsSender, SmsDeliveryError, webhookSignature, type SmsConfig } from '../../src/notify/sms.ts';
import { SmsReceiver } from '../helpers/sms-receiver.ts';

const SECRET = 'webhook-secret-0123456789abcdefghijklmnop';
const SID = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'twilio-auth-token-0123456789abcdef';
const FROM = '+15005550006';
const message = { to: '+13125550101', body: 'Your Producer Experience Portal verification code is ABCD2345. It expires in 10 minutes.', purpose: 'password_reset' };

let receiver: SmsReceiver;
beforeAll(async () => {
  receiver = await new SmsReceiver().start();
});
afterAll(async () => {
  await receiver?.stop();
});
beforeEach(() => receiver.reset());

function base(over: Partial<SmsConfig> = {}): SmsConfig {
  return { NODE_ENV: 'test', SMS_TIMEOUT_MS: 5000, TWILIO_API_BASE: 'https://api.twilio.com', ...over };
}

async function deliveryError(p: Promise<unknown>): Promise<SmsDeliveryError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(SmsDeliveryError);
    return err as SmsDeliveryError;
  }
  throw new Error('expected SmsDeliveryError');
}

describe('SMS webhook transport', () => {
  const webhook = (over: Partial<SmsConfig> = {}) => createSmsSender(base({ SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: `${receiver.url}/sms`, SMS_WEBHOOK_SECRET: SECRET, ...over }));

  it('POSTs JSON {to, body, purpose} with a valid HMAC-SHA256 of the raw body', async () => {
    const sender = webhook();
    expect(sender.provider).toBe('webhook');
    await sender.send(message);
    expect(receiver.requests).toHaveLength(1);
    const [req] = receiver.requests;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/sms');
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.rawBody)).toEqual(message);
    // What the gateway does: recompute over the bytes received, compare in constant time.
    const expected = createHmac('sha256', SECRET).update(req.rawBody).digest();
    const got = Buffer.from(String(req.headers['x-signature-sha256']), 'hex');
    expect(got.length).toBe(32);
    expect(timingSafeEqual(got, expected)).toBe(true);
    expect(req.headers['x-signature-sha256']).toBe(webhookSignature(SECRET, req.rawBody));
    // A different secret would not verify.
    expect(webhookSignature('another-secret-0123456789abcdefghijklm', req.rawBody)).not.toBe(req.headers['x-signature-sha256']);
  });

  it('any 2xx is accepted', async () => {
    receiver.answer = () => ({ status: 202, body: '' });
    await webhook().send(message);
    expect(receiver.requests).toHaveLength(1);
  });

  it('a 500 answer throws SmsDeliveryError without the text or number in the message', async () => {
    receiver.answer = () => ({ status: 500, body: '{"error":"boom"}' });
    const err = await deliveryError(webhook().send(message));
    expect(err.reason).toBe('rejected');
    expect(err.status).toBe(500);
    expect(err.provider).toBe('webhook');
    expect(err.message).not.toContain('ABCD2345');
    expect(err.message).not.toContain(message.to);
  });

  it('a redirect is not followed', async () => {
    receiver.answer = () => ({ status: 302, body: '' });
    const err = await deliveryError(webhook().send(message));
    expect(['rejected', 'network']).toContain(err.reason);
    expect(receiver.requests).toHaveLength(1);
  });

  it('an answer slower than SMS_TIMEOUT_MS throws SmsDeliveryError (timeout)', async () => {
    receiver.answer = () => ({ status: 200, body: '{}', delayMs: 5000 });
    const started = Date.now();
    const err = await deliveryError(webhook({ SMS_TIMEOUT_MS: 200 }).send(message));
    expect(err.reason).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('an unreachable gateway throws SmsDeliveryError (network)', async () => {
    const err = await deliveryError(webhook({ SMS_WEBHOOK_URL: 'http://127.0.0.1:1/sms' }).send(message));
    expect(err.reason).toBe('network');
  });

  it('refuses a number that is not E.164 without calling the gateway', async () => {
    for (const to of ['312-555-0101', '13125550101', '+0123', '']) {
      const err = await deliveryError(webhook().send({ ...message, to }));
      expect(err.reason).toBe('invalid_number');
    }
    expect(receiver.requests).toHaveLength(0);
  });
});

describe('Twilio Messages API transport', () => {
  const twilio = () => createSmsSender(base({ SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: TOKEN, TWILIO_FROM: FROM, TWILIO_API_BASE: `${receiver.url}/` }));

  it('POSTs To, From, Body form-encoded with Basic auth to Accounts/{sid}/Messages.json', async () => {
    receiver.answer = () => ({ status: 201, body: JSON.stringify({ sid: 'SM0123', status: 'queued' }) });
    const sender = twilio();
    expect(sender.provider).toBe('twilio');
    await sender.send(message);
    const [req] = receiver.requests;
    expect(req.method).toBe('POST');
    expect(req.path).toBe(`/2010-04-01/Accounts/${SID}/Messages.json`);
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`);
    const form = new URLSearchParams(req.rawBody);
    expect(Object.fromEntries(form)).toEqual({ To: message.to, From: FROM, Body: message.body });
  });

  it('a Twilio error answer throws SmsDeliveryError with the Twilio error code', async () => {
    receiver.answer = () => ({ status: 400, body: JSON.stringify({ code: 21211, message: "The 'To' number is not valid.", status: 400 }) });
    const err = await deliveryError(twilio().send(message));
    expect(err).toMatchObject({ provider: 'twilio', reason: 'rejected', status: 400, providerCode: 21211 });
  });

  it('a slow Twilio answer throws SmsDeliveryError (timeout)', async () => {
    receiver.answer = () => ({ status: 201, body: '{}', delayMs: 5000 });
    const sender = createSmsSender(base({ SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: TOKEN, TWILIO_FROM: FROM, TWILIO_API_BASE: receiver.url, SMS_TIMEOUT_MS: 200 }));
    expect((await deliveryError(sender.send(message))).reason).toBe('timeout');
  });
});

describe('development outbox transport', () => {
  it('puts the text into the mail outbox as channel sms', async () => {
    const mailer = createMailer({ MAIL_FROM: 'Portal <no-reply@example.com>' });
    const sender = createSmsSender(base(), mailer.outbox);
    expect(sender.provider).toBe('outbox');
    expect(sender.outbox).toBe(mailer.outbox);
    await mailer.send({ to: 'a@example.com', subject: 'Mail', text: 'mail text', html: '<p>mail</p>' });
    await sender.send(message);
    expect(mailer.outbox).toHaveLength(2);
    expect(mailer.outbox![0]).toMatchObject({ channel: 'sms', to: message.to, subject: 'SMS', text: message.body, html: '' });
    expect(mailer.outbox![1]).toMatchObject({ channel: 'email', to: 'a@example.com' });
    expect(new Set(mailer.outbox!.map((e) => e.id)).size).toBe(2);
  });

  it('keeps its own outbox when none is given', async () => {
    const sender = createSmsSender(base());
    await sender.send(message);
    expect(sender.outbox).toHaveLength(1);
    expect(sender.outbox![0].channel).toBe('sms');
  });
});

describe('SMS configuration', () => {
  const common = { COOKIE_KEYS: 'k'.repeat(40), PORTAL_CLIENT_SECRET: 's'.repeat(40), SIGNING_KEYS_ENCRYPTION_KEY: 'e'.repeat(40) };
  const production = {
    NODE_ENV: 'production', DATABASE_URL: 'postgres://db/idp', SMTP_URL: 'smtps://u:p@mail.example.com', ISSUER: 'https://login.example.com',
    PORTAL_URL: 'https://portal.example.com', ...common,
  };

  it('defaults to the outbox outside production, infers webhook or twilio from their settings', () => {
    expect(loadConfig({ ...common }).SMS_PROVIDER).toBe('outbox');
    expect(loadConfig({ ...common }).SMS_TIMEOUT_MS).toBe(5000);
    expect(loadConfig({ ...common }).TWILIO_API_BASE).toBe('https://api.twilio.com');
    expect(loadConfig({ ...common, SMS_WEBHOOK_URL: 'https://sms.example.com/send', SMS_WEBHOOK_SECRET: SECRET }).SMS_PROVIDER).toBe('webhook');
    expect(loadConfig({ ...common, TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: TOKEN, TWILIO_FROM: FROM }).SMS_PROVIDER).toBe('twilio');
  });

  it('production without a real SMS provider is refused, naming SMS_PROVIDER', () => {
    expect(() => loadConfig(production)).toThrow(ConfigError);
    expect(() => loadConfig(production)).toThrow(/SMS_PROVIDER/);
    expect(() => loadConfig({ ...production, SMS_PROVIDER: 'outbox' })).toThrow(/SMS_PROVIDER/);
    expect(() => createSmsSender(base({ NODE_ENV: 'production' }))).toThrow(ConfigError);
  });

  it('production starts with a webhook (https) or Twilio', () => {
    expect(loadConfig({ ...production, SMS_WEBHOOK_URL: 'https://sms.example.com/send', SMS_WEBHOOK_SECRET: SECRET }).SMS_PROVIDER).toBe('webhook');
    expect(loadConfig({ ...production, SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: TOKEN, TWILIO_FROM: FROM }).SMS_PROVIDER).toBe('twilio');
    expect(() => loadConfig({ ...production, SMS_WEBHOOK_URL: 'http://sms.example.com/send', SMS_WEBHOOK_SECRET: SECRET })).toThrow(/SMS_WEBHOOK_URL must be an https/);
  });

  it('names each missing or invalid SMS setting', () => {
    expect(() => loadConfig({ ...common, SMS_WEBHOOK_URL: 'https://sms.example.com/send' })).toThrow(/SMS_WEBHOOK_SECRET/);
    expect(() => loadConfig({ ...common, SMS_WEBHOOK_URL: 'https://sms.example.com/send', SMS_WEBHOOK_SECRET: 'short' })).toThrow(/SMS_WEBHOOK_SECRET/);
    expect(() => loadConfig({ ...common, SMS_PROVIDER: 'webhook' })).toThrow(/SMS_WEBHOOK_URL/);
    const twilio = () => loadConfig({ ...common, SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: SID });
    expect(twilio).toThrow(/TWILIO_AUTH_TOKEN/);
    expect(twilio).toThrow(/TWILIO_FROM/);
    expect(() => loadConfig({ ...common, TWILIO_ACCOUNT_SID: 'nope', TWILIO_AUTH_TOKEN: TOKEN, TWILIO_FROM: FROM })).toThrow(/TWILIO_ACCOUNT_SID/);
    expect(() => loadConfig({ ...common, TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: TOKEN, TWILIO_FROM: '312-555-0101' })).toThrow(/TWILIO_FROM/);
    expect(() => loadConfig({ ...common, SMS_WEBHOOK_URL: 'https://sms.example.com/send', SMS_WEBHOOK_SECRET: SECRET, TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: TOKEN, TWILIO_FROM: FROM })).toThrow(/SMS_PROVIDER/);
    expect(() => loadConfig({ ...common, SMS_TIMEOUT_MS: '0' })).toThrow(/SMS_TIMEOUT_MS/);
    expect(() => createSmsSender(base({ SMS_PROVIDER: 'twilio' }))).toThrow(/TWILIO_ACCOUNT_SID/);
  });
});
