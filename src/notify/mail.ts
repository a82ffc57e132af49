import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import nodemailer from 'nodemailer';
import type { Config } from '../config/index.ts';

/** One outgoing email. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  /** HTML alternative; omitted for plain-text mail (e.g. issue reports). */
  html?: string;
  /** Files attached (e.g. an issue report's screenshot). */
  attachments?: { filename: string; content: Buffer; contentType: string }[];
}

/** A message kept by the development outbox. */
export interface OutboxEntry extends MailMessage {
  id: number;
  channel: 'email' | 'sms';
  at: Date;
}

/** Sends mail. `send` resolves when the server accepted the message; it throws on failure. */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
  /** The development outbox (undefined when a real SMTP server is used). */
  outbox?: OutboxEntry[];
}

/**
 * Builds the mailer from configuration: nodemailer over `SMTP_URL`, or (outside production) a
 * development outbox that keeps the last 200 messages in memory for `/dev/outbox`.
 */
export function createMailer(config: Pick<Config, 'SMTP_URL' | 'MAIL_FROM'>): Mailer {
  if (config.SMTP_URL) {
    const transport = nodemailer.createTransport(config.SMTP_URL);
    return {
      async send(m) {
        await transport.sendMail({ from: config.MAIL_FROM, to: m.to, subject: m.subject, text: m.text, html: m.html, attachments: m.attachments });
      },
    };
  }
  const outbox: OutboxEntry[] = [];
  return {
    outbox,
    async send(m) {
      // ids are shared with SMS entries in the same outbox (src/notify/sms.ts): highest + 1
      const id = outbox.reduce((max, e) => Math.max(max, e.id), 0) + 1;
      outbox.unshift({ ...m, id, channel: 'email', at: new Date() });
      outbox.length = Math.min(outbox.length, 200);
    },
  };
}

const messagesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views/messages');

/** Branding values every message template receives (all from configuration). */
export interface Branding {
  organizationName: string;
  productName: string;
  helpDeskPhone: string;
  supportEmail: string;
  issuer: string;
}

/**
 * Renders `views/messages/<name>.html.ejs` and `<name>.txt.ejs` into a message.
 * @param name template name, e.g. `verify-email`.
 * @param data template values (merged with branding); links must be built from the issuer.
 */
export async function renderMessage(name: string, to: string, subject: string, branding: Branding, data: Record<string, unknown>): Promise<MailMessage> {
  const vars = { ...branding, ...data, subject };
  const [html, text] = await Promise.all([
    ejs.renderFile(path.join(messagesDir, `${name}.html.ejs`), vars, { async: false }),
    ejs.renderFile(path.join(messagesDir, `${name}.txt.ejs`), vars, { async: false, escape: (s: unknown) => String(s) }),
  ]);
  return { to, subject, html, text };
}
