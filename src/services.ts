import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from './clock.ts';
import type { Config } from './config/index.ts';
import type { ChangeFeed, ReadCache } from './db/change-feed.ts';
import type { PrincipalCache } from './db/repositories/delegations.ts';
import type { Terms } from './db/repositories/terms.ts';
import type { Database } from './db/schema.ts';
import type { Branding, Mailer } from './notify/mail.ts';
import type { SmsSender } from './notify/sms.ts';
import type { FactorRegistry } from './mfa/factor.ts';
import type { Metrics } from './observability/metrics.ts';
import type { PasswordHasher } from './security/passwords.ts';
import type { RateLimits } from './security/rate-limit.ts';

/**
 * Everything the IdP's modules need, built once in main.ts (or by a test) and passed down:
 * no module reaches for globals, so tests swap the clock, the mailer or the database.
 */
export interface Services {
  config: Config;
  db: Kysely<Database>;
  clock: Clock;
  mailer: Mailer;
  /** SMS transport (dev outbox, webhook or Twilio). */
  sms: SmsSender;
  /** Second factors of "Verify your Account", from MFA_FACTORS. */
  factors: FactorRegistry;
  hasher: PasswordHasher;
  rateLimits: RateLimits;
  logger: Logger;
  /** Change notifications from the database (started by the server; src/db/change-feed.ts). */
  changes: ChangeFeed;
  /**
   * Caches kept exact by `changes`: the active Terms of Use (read at every sign-in) and whom each
   * grant acts for (read at every token, refresh and userinfo; issue 14).
   */
  caches: { terms: ReadCache<Terms | undefined>; grantPrincipals: PrincipalCache };
  /** Prometheus metrics of this process (src/observability/metrics.ts). */
  metrics: Metrics;
  branding: Branding;
  /** Runs a side effect (mail, SMS) after the response, logging instead of throwing. */
  later(what: string, fn: () => Promise<unknown>): void;
  /** Resolves when every side effect started by `later` has finished (shutdown, tests). */
  settle(): Promise<void>;
}
