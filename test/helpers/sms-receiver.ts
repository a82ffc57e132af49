import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the receiver got, with the exact raw body. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
}

/** How the receiver answers a request: status, body, and an optional delay in milliseconds. */
export interface ReceiverAnswer {
  status: number;
  body?: string;
  contentType?: string;
  delayMs?: number;
}

/**
 * A real HTTP server on 127.0.0.1 (random port) standing in for an SMS gateway (the webhook) or
 * the Twilio API (point TWILIO_API_BASE at `url`). It records every request and answers with
 * `answer(request)` — 200 `{}` by default; set `answer` to return 500 or to delay.
 */
export class SmsReceiver {
  readonly requests: ReceivedRequest[] = [];
  answer: (req: ReceivedRequest) => ReceiverAnswer = () => ({ status: 200, body: '{}' });
  url = '';
  #server: Server;
  #timers = new Set<NodeJS.Timeout>();

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const received: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, rawBody: Buffer.concat(chunks).toString('utf8') };
        this.requests.push(received);
        const a = this.answer(received);
        const reply = () => {
          if (res.destroyed) return;
          res.writeHead(a.status, { 'content-type': a.contentType ?? 'application/json' });
          res.end(a.body ?? '');
        };
        if (!a.delayMs) return reply();
        const t = setTimeout(() => {
          this.#timers.delete(t);
          reply();
        }, a.delayMs);
        this.#timers.add(t);
      });
    });
  }

  /** Listens on 127.0.0.1 and a free port; `url` is then `http://127.0.0.1:<port>`. */
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  /** Forgets the recorded requests and restores the default 200 answer. */
  reset(): void {
    this.requests.length = 0;
    this.answer = () => ({ status: 200, body: '{}' });
  }

  /** Stops listening, dropping open connections and pending delayed answers. */
  async stop(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
