import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { createIdp } from '../../src/app.ts';
import { buildServices } from '../../src/bootstrap.ts';
import { ManualClock } from '../../src/clock.ts';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { dropSchema } from '../../src/db/database.ts';
import { stopBackchannelDelivery } from '../../src/oidc/backchannel.ts';
import type { Db } from '../../src/db/database.ts';
import { seed } from '../../src/seed.ts';
import type { Services } from '../../src/services.ts';
import { SmtpReceiver } from './smtp.ts';

/** A running IdP for a test file: its own PostgreSQL schema, a manual clock and a real SMTP receiver. */
export interface TestIdp {
  url: string;
  provider: Provider;
  services: Services;
  clock: ManualClock;
  smtp: SmtpReceiver;
  config: Config;
  server: Server;
  stop(): Promise<void>;
}

/** The database tests run against: DATABASE_URL (CI sets it), else a local default. */
export const TEST_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/producer_idp_test';

/**
 * Starts an IdP on a random 127.0.0.1 port against real PostgreSQL, in a fresh schema that is dropped
 * by `stop()`. Config values can be overridden (e.g. `{ PORTAL_URL }`). Fast argon2 parameters are
 * NOT used: tests run the production defaults.
 */
export async function startIdp(overrides: Record<string, unknown> = {}, options: { logger?: Logger } = {}): Promise<TestIdp> {
  const smtp = await new SmtpReceiver().start();
  const schema = `t_${randomBytes(6).toString('hex')}`;
  // Bind first to learn the port, so the issuer (and every link) is the real address.
  const { createServer } = await import('node:http');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({}, {
    NODE_ENV: 'test',
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: schema,
    ISSUER: url,
    SMTP_URL: smtp.url,
    COOKIE_KEYS: 'test-cookie-key-0123456789abcdefghijklmnop',
    PORTAL_CLIENT_SECRET: 'portal-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    PORTAL_URL: 'http://127.0.0.1:1',
    SEED_DEMO: true,
    LOG_LEVEL: 'silent',
    // The typing-pattern page (issue 5) is enabled only by the tests about it.
    MFA_FACTORS: 'email,sms',
    // PORTAL_URL is a dead address here: no logout tokens to it unless a test asks (portal tests).
    PORTAL_BACKCHANNEL_LOGOUT: false,
    // The example downstream application's client is registered only by the tests about it.
    EXAMPLE_APP_ENABLED: false,
    ...overrides,
  });
  const clock = new ManualClock(new Date());
  let database: Db;
  const built = await buildServices(config, { clock, logger: options.logger });
  database = built.database;
  const services = built.services;
  const provider = await createIdp(services);
  await seed(services, provider);
  server.on('request', provider.callback());
  return {
    url, provider, services, clock, smtp, config, server,
    async stop() {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await stopBackchannelDelivery(provider);
      await services.settle(); // mail sent after answering must not race the schema drop
      await smtp.stop();
      await dropSchema(database.db as never, schema);
      await database.close();
    },
  };
}
