import pino from 'pino';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config/index.ts';
import { openDatabase, type Db } from './db/database.ts';
import { migrateToLatest } from './db/migrate.ts';
import { createMailer, type Mailer } from './notify/mail.ts';
import { createSmsSender, type SmsSender } from './notify/sms.ts';
import { argon2Params, PasswordHasher } from './security/passwords.ts';
import { RateLimits, rateLimitKeySecret } from './security/rate-limit.ts';
import type { Services } from './services.ts';
import { buildFactorRegistry } from './mfa/registry.ts';

/**
 * Opens the database (applying pending migrations) and builds the services the IdP runs on.
 * `overrides` lets tests inject a manual clock or a mailer.
 * @returns the services and the database handle (close it on shutdown).
 * @throws Error when the database cannot be opened or a migration fails.
 */
export async function buildServices(config: Config, overrides: { clock?: Clock; mailer?: Mailer; sms?: SmsSender } = {}): Promise<{ services: Services; database: Db }> {
  const database = await openDatabase(config);
  try {
    await migrateToLatest(database.db, config.DATABASE_SCHEMA);
  } catch (err) {
    await database.close();
    throw err;
  }
  const logger = pino({ level: config.LOG_LEVEL, base: { service: 'producer-idp' } });
  const mailer = overrides.mailer ?? createMailer(config);
  const pending = new Set<Promise<void>>();
  const services: Services = {
    config,
    db: database.db,
    clock: overrides.clock ?? systemClock,
    mailer,
    sms: overrides.sms ?? createSmsSender(config, mailer.outbox),
    factors: buildFactorRegistry(config),
    hasher: new PasswordHasher(argon2Params(config)),
    rateLimits: new RateLimits(database.db, config.DATABASE_SCHEMA, rateLimitKeySecret(config.COOKIE_KEYS[0]!)),
    logger,
    branding: {
      organizationName: config.ORGANIZATION_NAME,
      productName: config.PRODUCT_NAME,
      helpDeskPhone: config.HELP_DESK_PHONE,
      supportEmail: config.SUPPORT_EMAIL,
      issuer: config.ISSUER,
    },
    later(what, fn) {
      const task = new Promise<void>((resolve) => setImmediate(resolve))
        .then(fn)
        .then(
          () => undefined,
          (err) => logger.error({ err }, `${what} failed`),
        )
        .finally(() => pending.delete(task));
      pending.add(task);
    },
    async settle() {
      while (pending.size) await Promise.all([...pending]);
    },
  };
  return { services, database };
}
