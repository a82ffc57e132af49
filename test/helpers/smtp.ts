import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A received mail, parsed. */
export interface ReceivedMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Attached files (name, MIME type, size in bytes). */
  attachments: { filename: string; contentType: string; size: number }[];
}

/**
 * A real SMTP receiver (smtp-server) on 127.0.0.1 for tests: the IdP sends through nodemailer to
 * `url`, and tests read what arrived.
 */
export class SmtpReceiver {
  readonly messages: ReceivedMail[] = [];
  #server: SMTPServer;
  #waiters: (() => void)[] = [];
  url = '';

  constructor() {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, session, callback) => {
        simpleParser(stream)
          .then((parsed) => {
            const to = session.envelope.rcptTo.map((r) => r.address).join(',');
            this.messages.push({
              to, subject: parsed.subject ?? '', text: parsed.text ?? '', html: typeof parsed.html === 'string' ? parsed.html : '',
              attachments: parsed.attachments.map((a) => ({ filename: a.filename ?? '', contentType: a.contentType, size: a.size })),
            });
            for (const w of this.#waiters.splice(0)) w();
            callback();
          })
          .catch(callback);
      },
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = this.#server.server.address() as AddressInfo;
    this.url = `smtp://127.0.0.1:${port}`;
    return this;
  }

  /** Waits (at most `timeoutMs`, default 5000) for a mail to `to` matching `subject`, newest first. */
  async waitFor(to: string, subject: RegExp = /./, timeoutMs = 5000): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = [...this.messages].reverse().find((m) => m.to.toLowerCase() === to.toLowerCase() && subject.test(m.subject));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no mail to ${to} matching ${subject} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Messages sent to `to`. */
  to(to: string): ReceivedMail[] {
    return this.messages.filter((m) => m.to.toLowerCase() === to.toLowerCase());
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** The first URL in `text` whose path starts with `pathPrefix`. */
export function linkIn(text: string, pathPrefix: string): string {
  const m = text.match(/https?:\/\/[^\s"'<>]+/g) ?? [];
  const found = m.find((u) => new URL(u).pathname.startsWith(pathPrefix));
  if (!found) throw new Error(`no ${pathPrefix} link in mail:\n${text}`);
  return found;
}
