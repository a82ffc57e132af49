import pino, { type Logger } from 'pino';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config/index.ts';
import { isDatabaseUnavailable } from './db/availability.ts';
import { ReadCache } from './db/change-feed.ts';
import { openDatabase, type Db } from './db/database.ts';
import type { Terms } from './db/repositories/terms.ts';
import { Metrics } from './observability/metrics.ts';
import { migrateToLatest } from './db/migrate.ts';
import { createMailer, type Mailer } from './notify/mail.ts';
import { createSmsSender, type SmsSender } from './notify/sms.ts';
import { argon2Params, hashLimits, PasswordHasher } from './security/passwords.ts';
import { RateLimits, rateLimitKeySecret } from './security/rate-limit.ts';
import type { Services } from './services.ts';
import { buildFactorRegistry } from './mfa/registry.ts';

/** The longest the active Terms of Use are served from memory, milliseconds (changes drop them at once). */
const TERMS_CACHE_MAX_AGE_MS = 60_000;
/** The longest whom a grant acts for is served from memory, milliseconds (a write drops it at its commit). */
const PRINCIPAL_CACHE_MAX_AGE_MS = 60_000;

/**
 * Opens the database (applying pending migrations) and builds the services the IdP runs on.
 * `overrides` lets tests inject a manual clock or a mailer.
 * @returns the services and the database handle (close it on shutdown).
 * @throws Error when the database cannot be opened or a migration fails.
 */
export async function buildServices(config: Config, overrides: { clock?: Clock; mailer?: Mailer; sms?: SmsSender; logger?: Logger } = {}): Promise<{ services: Services; database: Db }> {
  const logger = overrides.logger ?? createLogger(config);
  const metrics = new Metrics();
  const database = await openDatabase(config, {
    onQueryError: (err) => metrics.dbQueryErrors.inc({ kind: isDatabaseUnavailable(err) ? 'unavailable' : 'other' }),
    onWait: (message) => logger.warn(message),
    onQuery: () => metrics.dbQueries.inc(),
  });
  if (database.poolStats) metrics.watchPool(database.poolStats);
  try {
    await migrateToLatest(database.db, config.DATABASE_SCHEMA);
  } catch (err) {
    await database.close();
    throw err;
  }
  const mailer = overrides.mailer ?? createMailer(config);
  const pending = new Set<Promise<void>>();
  const services: Services = {
    config,
    db: database.db,
    clock: overrides.clock ?? systemClock,
    mailer,
    sms: overrides.sms ?? createSmsSender(config, mailer.outbox),
    factors: buildFactorRegistry(config),
    hasher: new PasswordHasher(argon2Params(config), hashLimits(config)),
    changes: database.changes,
    caches: {
      terms: new ReadCache<Terms | undefined>(database.changes, 'terms', TERMS_CACHE_MAX_AGE_MS, 1),
      grantPrincipals: new ReadCache(database.changes, 'delegation_grants', PRINCIPAL_CACHE_MAX_AGE_MS, 10_000),
    },
    rateLimits: new RateLimits(database.db, config.DATABASE_SCHEMA, rateLimitKeySecret(config.COOKIE_KEYS[0]!)),
    logger,
    metrics,
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

/**
 * The process's JSON logger (pino) at LOG_LEVEL. Values that must never reach a log are censored
 * wherever a caller passes them by accident (cookies, authorization headers, passwords, codes,
 * tokens, client secrets): pino's `redact`.
 */
export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, destination?: pino.DestinationStream): Logger {
  return pino({
    level: config.LOG_LEVEL,
    base: { service: 'producer-idp' },
    redact: {
      paths: [
        'req.headers.cookie', 'req.headers.authorization', 'headers.cookie', 'headers.authorization',
        '*.password', '*.code', '*.token', '*.access_token', '*.refresh_token', '*.id_token', '*.client_secret',
        'password', 'code', 'token', 'client_secret',
      ],
      censor: '[redacted]',
    },
  }, destination);
}
