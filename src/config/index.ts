import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const bool = z
  .union([z.boolean(), z.string()])
  .transform((v) => (typeof v === 'boolean' ? v : ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase())));
/**
 * An integer setting within [min, max] (both inclusive). Every numeric setting has both bounds, so a
 * value the code cannot handle (e.g. LOCKOUT_SECONDS=9007199254740991) stops the start with a
 * message naming the setting and its range.
 */
const int = (min: number, max: number, unit = '') => {
  const range = `must be a whole number from ${min} to ${max}${unit ? ` (${unit})` : ''}`;
  return z.coerce.number({ error: range }).int({ error: range }).min(min, { error: range }).max(max, { error: range });
};
const DAY = 86400;
/** An absolute http(s) URL (links shown to people: never `javascript:` or `data:`). */
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });
/** A JSON array setting (string in the environment) whose items follow `item`. */
const jsonList = <T extends z.ZodType>(item: T) =>
  z.union([z.string(), z.array(z.unknown())]).transform((v, ctx) => {
    if (Array.isArray(v)) return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array' });
      return z.NEVER;
    }
  }).pipe(z.array(item).max(50));
const list = z
  .union([z.array(z.string()), z.string()])
  .transform((v) => (Array.isArray(v) ? v : v.split(',').map((s) => s.trim()).filter(Boolean)));

/**
 * The one configuration schema. Each key is read from the environment variable of the same name
 * (see README "Configuration"); the comment on each key says what it is, its unit and its default.
 */
export const configSchema = z.object({
  /** `development` | `test` | `production`. Production refuses every development default. */
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /** TCP port of the identity provider. Default 3000. */
  PORT: int(0, 65535).default(3000),
  /** Interface the servers listen on (e.g. `127.0.0.1`). Default: every interface. */
  HOST: z.string().min(1).optional(),
  /** The IdP's issuer identifier and public base URL; every link in mail and pages is built from it. Default `http://localhost:<PORT>`. */
  ISSUER: z.url().refine((v) => { const u = new URL(v); return (u.protocol === 'https:' || u.protocol === 'http:') && u.pathname === '/' && !u.search && !u.hash && !u.username && !v.endsWith('/'); }, 'must be an http(s) origin without a path, query or trailing slash (e.g. https://idp.example.com); the IdP serves its endpoints at the root').default('http://localhost:3000'),
  /** Trust X-Forwarded-For/-Proto from a reverse proxy (set it behind a TLS-terminating proxy). Default false. */
  TRUST_PROXY: bool.default(false),
  /** With TRUST_PROXY: how many proxies in front of the IdP append to X-Forwarded-For; the client address is the entry that many places from the right (Koa `maxIpsCount`). Default 1. */
  TRUST_PROXY_HOPS: int(1, 10).default(1),
  /** PostgreSQL connection string. Unset (not production) → embedded PGlite in DATA_DIR. */
  DATABASE_URL: z.string().refine((v) => { try { const u = new URL(v); return (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && !!u.hostname; } catch { return false; } }, 'must be a PostgreSQL connection URL like postgres://user:password@host:5432/database').optional(),
  /** PostgreSQL schema holding the tables. Default `public` (tests use one schema per file). */
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('public'),
  /** Most connections the PostgreSQL pool opens, per process. Default 10. */
  DATABASE_POOL_MAX: int(1, 200, 'connections').default(10),
  /** How long a request waits for a PostgreSQL connection before it is answered 503, milliseconds. Default 5000. */
  DATABASE_CONNECT_TIMEOUT_MS: int(100, 60000, 'milliseconds').default(5000),
  /** How long start-up waits for an unreachable PostgreSQL (retrying), seconds. Default 60; 0 fails at once. */
  DATABASE_STARTUP_WAIT_SECONDS: int(0, 3600, 'seconds').default(60),
  /** Port of the Prometheus metrics listener (GET /metrics), never the public port. Unset: metrics are off. */
  METRICS_PORT: int(1, 65535).optional(),
  /** Interface the metrics listener binds to. Default `127.0.0.1` (scrape through a sidecar or set `0.0.0.0` on a private network). */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** How often the server removes expired rows (flows, codes, links, send history, sessions, tokens…), seconds; 0 turns the job off (use `db purge`). Default 3600. */
  PURGE_INTERVAL_SECONDS: int(0, 7 * 86400, 'seconds').default(3600),
  /** How long audit events are kept, days. Default 400. */
  AUDIT_RETENTION_DAYS: int(1, 36500, 'days').default(400),
  /** Folder for the embedded database and generated development secrets. Default `./data`. */
  DATA_DIR: z.string().default('./data'),
  /** Comma-separated secrets that sign cookies (first signs, all verify). Required in production. */
  COOKIE_KEYS: list.optional(),
  /** SMTP server (`smtp://user:pass@host:port` or `smtps://…`). Unset (not production) → dev outbox. */
  SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://').optional(),
  /** Sender of every mail. */
  MAIL_FROM: z.string().regex(/^(?:[^<>\r\n]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/, 'must be an address like no-reply@example.com or Name <no-reply@example.com>').default('Producer Portal <no-reply@example.com>'),
  /** Organization shown on pages and mail (the carrier). */
  ORGANIZATION_NAME: z.string().default('Example Mutual Insurance'),
  /** Product name shown on pages and mail. */
  PRODUCT_NAME: z.string().default('Producer Experience Portal'),
  /** Help desk phone printed on pages and in mail. */
  HELP_DESK_PHONE: z.string().default('1-800-555-0100'),
  /** Support email printed on pages and in mail. */
  SUPPORT_EMAIL: z.string().default('support@example.com'),
  /** Portal (relying party) port, started by `npm start` beside the IdP. Default 3001. */
  PORTAL_PORT: int(0, 65535).default(3001),
  /** Portal public URL; the default relying party that pages outside a sign-in lead back to. Default `http://localhost:<PORTAL_PORT>`. */
  PORTAL_URL: z.url().default('http://localhost:3001'),
  /**
   * Downstream applications on the portal's Home (guide slide 18), as JSON: `[{"label","url","description","newTab"}]`.
   * A label equal to a navigation entry ("Quote & Enroll", "Commissions & Reporting") also takes over that entry.
   * Default: the example application's Quote & Enroll and Commissions & Reporting pages when it runs (EXAMPLE_APP_ENABLED), else none.
   */
  PORTAL_HOME_LINKS: jsonList(z.object({ label: z.string().min(1).max(60), url: httpUrl, description: z.string().max(300).default(''), newTab: z.boolean().default(false), permission: z.enum(['quote_enroll', 'commissions_reporting', 'view_hierarchy']).optional() })).optional(),
  /** The portal's Resources page, as JSON: `[{"title","url","description","group"}]`. Default: a short development list. */
  PORTAL_RESOURCES: jsonList(z.object({ title: z.string().min(1).max(100), url: httpUrl, description: z.string().max(300).default(''), group: z.string().min(1).max(60).default('Resources') })).optional(),
  /** Where the portal's "Report an Issue" form mails reports (guide slide 19). Default SUPPORT_EMAIL. */
  REPORT_ISSUE_EMAIL: z.email().optional(),
  /** Resource identifier (RFC 8707) of the IdP's producer API (My Hierarchy); its JWT access tokens carry it as `aud`. Default `<ISSUER>/api`. */
  PRODUCER_API_RESOURCE: z.url().optional(),
  /** Start the portal in the same process (`npm start`). Default true. */
  PORTAL_ENABLED: bool.default(true),
  /** client_id of the portal at the IdP. */
  PORTAL_CLIENT_ID: z.string().default('producer-portal'),
  /** client_secret of the portal. Generated and kept in DATA_DIR in development; required in production. */
  PORTAL_CLIENT_SECRET: z.string().min(32).optional(),
  /** Start the example downstream application (Quote & Enroll / Commissions & Reporting by single sign-on) beside the portal (`npm start`). Default true when NODE_ENV is `development` and the portal runs (PORTAL_ENABLED), else false (never by default in `test` or `production`). */
  EXAMPLE_APP_ENABLED: bool.optional(),
  /** Example downstream application port. Default 3002. */
  EXAMPLE_APP_PORT: int(0, 65535).default(3002),
  /** Example downstream application public URL (its redirect and back-channel logout URIs are built from it). Default `http://localhost:<EXAMPLE_APP_PORT>`. */
  EXAMPLE_APP_URL: z.url().refine((v) => { const u = new URL(v); return (u.protocol === 'https:' || u.protocol === 'http:') && u.pathname === '/' && !u.search && !u.hash; }, 'must be an http(s) origin without a path (the example application is served at /)').default('http://localhost:3002'),
  /** client_id of the example downstream application at the IdP. Default `example-downstream-app`. */
  EXAMPLE_APP_CLIENT_ID: z.string().min(1).default('example-downstream-app'),
  /** client_secret of the example application. Generated and kept in DATA_DIR in development; required when it is enabled in production. */
  EXAMPLE_APP_CLIENT_SECRET: z.string().min(32).optional(),
  /** argon2id memory cost in KiB. Default 19456 (19 MiB, OWASP minimum). */
  ARGON2_MEMORY_KIB: int(19456, 4194304, 'KiB').default(19456),
  /** argon2id iterations. Default 2. */
  ARGON2_TIME_COST: int(2, 100).default(2),
  /** argon2id lanes. Default 1. */
  ARGON2_PARALLELISM: int(1, 64).default(1),
  /** Password hashes computed at the same time (each holds ARGON2_MEMORY_KIB); the others wait in order. Default: the machine's parallelism (CPU count). */
  ARGON2_MAX_CONCURRENT: int(1, 256).default(() => os.availableParallelism()),
  /** Password hashes allowed to wait for a free slot; beyond it a sign-in, registration or new-password submission is answered 503 with Retry-After. Default 64. */
  ARGON2_QUEUE_MAX: int(1, 10000).default(64),
  /** Wrong passwords in a row that lock an account (guide slide 6). Default 5. */
  LOCKOUT_THRESHOLD: int(1, 100).default(5),
  /** How long a lock lasts, seconds (guide slide 6: 30 minutes). Default 1800. */
  LOCKOUT_SECONDS: int(60, 30 * DAY, 'seconds').default(1800),
  /** Lifetime of an email confirmation link, seconds (guide slide 5: 7 days). Default 604800. */
  EMAIL_VERIFICATION_TTL_SECONDS: int(60, 30 * DAY, 'seconds').default(604800),
  /** Lifetime of a delegate invitation link, seconds (issue 14: 7 days). Default 604800. */
  DELEGATE_INVITATION_TTL_SECONDS: int(60, 30 * DAY, 'seconds').default(604800),
  /** Lifetime of a registration flow, seconds. Default 3600. */
  REGISTRATION_FLOW_TTL_SECONDS: int(60, DAY, 'seconds').default(3600),
  /** Sign-in attempts allowed per client address per window. Default 30. */
  RATE_LIMIT_LOGIN_POINTS: int(1, 100000).default(30),
  /** Registration attempts (producer lookups, Create Your Secure Login of producers and invited delegates, Add Delegate, invitation pages, resends) per client address per window. Default 20. */
  RATE_LIMIT_REGISTER_POINTS: int(1, 100000).default(20),
  /** Rate-limit window, seconds. Default 900. */
  RATE_LIMIT_WINDOW_SECONDS: int(1, DAY, 'seconds').default(900),
  /** Confirmation mails per account per hour ("Resend Email Link"). Default 5. */
  MAIL_SENDS_PER_HOUR: int(1, 100).default(5),
  /** Lifetime of the IdP session, seconds. Default 28800 (8 hours). */
  SESSION_TTL_SECONDS: int(60, 30 * DAY, 'seconds').default(28800),
  /** My Account pages (/account): a change asks for the password again when the last sign-in is older than this, seconds (`max_age` semantics). Default 300 (5 minutes). */
  ACCOUNT_REAUTH_SECONDS: int(30, 3600, 'seconds').default(300),
  /** How long "Remember this device for 30 days" lasts, seconds (guide slides 8-11). Default 2592000 (30 days). */
  DEVICE_TTL_SECONDS: int(60, 400 * DAY, 'seconds').default(2592000),
  /** Second factors offered on "Verify your Account", in order (comma-separated: email, sms, keystroke). Default all three. */
  MFA_FACTORS: list.default(['email', 'sms', 'keystroke']),
  /** acr value of a sign-in by password on a remembered device (the lower level). */
  ACR_REMEMBERED_DEVICE: z.string().min(1).default('urn:producer-idp:acr:remembered-device'),
  /** acr value of a sign-in with a fresh second factor (password + email or SMS code). */
  ACR_MFA: z.string().min(1).default('urn:producer-idp:acr:mfa'),
  /** The highlighted sentence typed for the typing pattern: 30 to 45 characters of plain words (guide slide 8). */
  KEYSTROKE_SENTENCE: z.string().default('my typing pattern keeps my account safe').refine((s) => /^[A-Za-z]+( [A-Za-z]+)*\.?$/.test(s) && s.length >= 30 && s.length <= 45, 'must be 30 to 45 characters of plain words (letters and single spaces)'),
  /** Global acceptance threshold of the keystroke matcher (scaled Manhattan score; lower is stricter). Default 1.5 (tuned by `npm run bench:keystroke`). */
  KEYSTROKE_THRESHOLD: z.coerce.number().positive().max(10).default(1.5),
  /** amr value (RFC 8176 has none for typing behaviour) added when the keyboard pattern passes. Default `kbd`. */
  KEYSTROKE_AMR: z.string().regex(/^[a-z0-9_-]{2,20}$/).default('kbd'),
  /** Whether a keyboard-pattern verification reaches the fresh-second-factor acr. Default false (NIST SP 800-63B does not accept typing behaviour as an authenticator). */
  KEYSTROKE_STRONG: bool.default(false),
  /** Seed the demo producers, terms and portal client at start. Default true outside production. */
  SEED_DEMO: bool.optional(),
  /** pino log level. Default `info` (`silent` in tests). */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  /**
   * How SMS (text message) codes are delivered: `outbox` (development: kept beside the mail outbox,
   * never sent), `webhook` (SMS_WEBHOOK_URL) or `twilio` (Twilio Messages API). Unset → `webhook`
   * when SMS_WEBHOOK_URL is set, `twilio` when TWILIO_ACCOUNT_SID is set, else `outbox`
   * (refused in production).
   */
  SMS_PROVIDER: z.enum(['outbox', 'webhook', 'twilio']).optional(),
  /** SMS gateway webhook: receives POST JSON `{to, body, purpose}` signed with SMS_WEBHOOK_SECRET. https:// in production. */
  SMS_WEBHOOK_URL: z.url().optional(),
  /** Secret for the webhook's `X-Signature-SHA256` header (hex HMAC-SHA256 of the raw body). At least 32 characters; required with SMS_WEBHOOK_URL. */
  SMS_WEBHOOK_SECRET: z.string().min(32).optional(),
  /** Time allowed for the SMS gateway (webhook or Twilio) to answer, milliseconds. Default 5000. */
  SMS_TIMEOUT_MS: int(100, 60000, 'milliseconds').default(5000),
  /** Twilio Account SID (`AC` + 32 hex digits); also the Basic-auth user. Required for SMS_PROVIDER=twilio. */
  TWILIO_ACCOUNT_SID: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must be AC followed by 32 hex digits').optional(),
  /** Twilio Auth Token (Basic-auth password). Required for SMS_PROVIDER=twilio. */
  TWILIO_AUTH_TOKEN: z.string().min(16).optional(),
  /** Sender number of the texts, E.164 (e.g. +15005550006). Required for SMS_PROVIDER=twilio. */
  TWILIO_FROM: z.string().regex(/^\+[1-9][0-9]{1,14}$/, 'must be an E.164 number like +15005550006').optional(),
  /** Base URL of the Twilio REST API (tests point it at a local receiver). Default https://api.twilio.com. */
  TWILIO_API_BASE: z.url().default('https://api.twilio.com'),
  /** Lifetime of a Forgot Username / Forgot Password flow, seconds (from its first step; guide slides 12-17). Default 900 (15 minutes). */
  RECOVERY_FLOW_TTL_SECONDS: int(60, DAY, 'seconds').default(900),
  /** Lifetime of the single-use unlock link in the Forgot Username mail, seconds. Default 1800 (30 minutes). */
  UNLOCK_LINK_TTL_SECONDS: int(60, 7 * DAY, 'seconds').default(1800),
  /** Account-recovery requests (Send Email, Find Account, Send Code, code entries, resends) per client address per RATE_LIMIT_WINDOW_SECONDS. Default 30. */
  RATE_LIMIT_RECOVERY_POINTS: int(1, 100000).default(30),
  /** Forgot Password for a username without an active account: percentage (0-100) of such usernames whose placeholder offers "Send me a text message"; set it near the share of producer records with a mobile number. Default 80. */
  RECOVERY_DECOY_SMS_PERCENT: int(0, 100, 'percent').default(80),
  /** Back-channel logout (issue 10): time a relying party has to answer one logout token, milliseconds. Default 2500. */
  BACKCHANNEL_LOGOUT_TIMEOUT_MS: int(100, 30000, 'milliseconds').default(2500),
  /** Back-channel logout: deliveries tried per logout token before giving up (audited `backchannel_logout.failed`). Default 4. */
  BACKCHANNEL_LOGOUT_ATTEMPTS: int(1, 10).default(4),
  /** Back-channel logout: wait before the first retry, seconds; doubled for each further retry. Default 2. */
  BACKCHANNEL_LOGOUT_BACKOFF_SECONDS: int(1, 3600, 'seconds').default(2),
  /** Production only: comma-separated hosts (`host` or `host:port`) on loopback or private addresses that may receive logout tokens and serve client jwks_uri. Default none (refused). */
  BACKCHANNEL_LOGOUT_ALLOWED_HOSTS: list.default([]),
  /** Register the portal's back-channel logout URI (PORTAL_URL + /backchannel-logout) so that a logout, password reset or deactivation at the IdP ends the portal session too. Default true. */
  PORTAL_BACKCHANNEL_LOGOUT: bool.default(true),
  /** Secret (at least 32 characters) that encrypts the private signing keys at rest (AES-256-GCM). Required in production; unset in development: keys stored in clear. */
  SIGNING_KEYS_ENCRYPTION_KEY: z.string().min(32).optional(),
  /** Rotate the signing keys automatically when the current one is this many days old; 0 turns it off (use `keys rotate`). Default 0. */
  SIGNING_KEY_ROTATION_DAYS: int(0, 3650, 'days').default(0),
  /** Lifetime of an initial access token from `clients initial-access-token` without --expires-in, seconds. Default 86400. */
  INITIAL_ACCESS_TOKEN_TTL_SECONDS: int(60, 365 * DAY, 'seconds').default(86400),
});

export type Config = z.infer<typeof configSchema> & {
  COOKIE_KEYS: string[];
  PORTAL_CLIENT_SECRET: string;
  EXAMPLE_APP_ENABLED: boolean;
  EXAMPLE_APP_CLIENT_SECRET: string;
  SEED_DEMO: boolean;
  LOG_LEVEL: NonNullable<z.infer<typeof configSchema>['LOG_LEVEL']>;
  /** The SMS transport in use, resolved by {@link resolveSmsProvider}. */
  SMS_PROVIDER: SmsProvider;
  /** true when DATABASE_URL is unset and the embedded database is used. */
  embeddedDatabase: boolean;
  PRODUCER_API_RESOURCE: string;
};

/** Thrown when configuration is invalid; `message` names each bad or missing setting. */
export class ConfigError extends Error {}

/**
 * Reads configuration from an environment-like record (default `process.env`), validates it with
 * {@link configSchema}, and fills development defaults (generated secrets kept in DATA_DIR).
 * @throws ConfigError naming the setting when a value is invalid, or when NODE_ENV=production and
 *   a development default would be used (embedded database, dev outbox, generated keys).
 */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Record<string, unknown>> = {}): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  Object.assign(raw, overrides);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const c = parsed.data;
  const production = c.NODE_ENV === 'production';
  const smsProblems = smsSettingProblems(c, production);
  if (smsProblems.length) throw new ConfigError(`Invalid SMS configuration:\n  ${smsProblems.join('\n  ')}`);
  if (production) {
    const missing: string[] = [];
    if (!c.DATABASE_URL) missing.push('DATABASE_URL (production does not use the embedded database)');
    if (!c.SMTP_URL) missing.push('SMTP_URL (production does not use the development outbox)');
    if (!c.COOKIE_KEYS?.length) missing.push('COOKIE_KEYS (production does not use generated cookie keys)');
    if (c.PORTAL_ENABLED && !c.PORTAL_CLIENT_SECRET) missing.push('PORTAL_CLIENT_SECRET (or PORTAL_ENABLED=false)');
    if (c.EXAMPLE_APP_ENABLED && !c.EXAMPLE_APP_CLIENT_SECRET) missing.push('EXAMPLE_APP_CLIENT_SECRET (or leave EXAMPLE_APP_ENABLED unset: the example application does not run in production by default)');
    if (!c.ISSUER.startsWith('https://')) missing.push('ISSUER must be an https:// URL in production');
    // The IdP's pages link to the portal and its client's redirect URIs are built from it.
    if (raw.PORTAL_URL === undefined) missing.push('PORTAL_URL (the portal\'s https:// address: the IdP\'s pages link to it)');
    else if (!c.PORTAL_URL.startsWith('https://')) missing.push('PORTAL_URL must be an https:// URL in production');
    if (c.EXAMPLE_APP_ENABLED && !c.EXAMPLE_APP_URL.startsWith('https://')) missing.push('EXAMPLE_APP_URL must be an https:// URL in production');
    if (!c.SIGNING_KEYS_ENCRYPTION_KEY) missing.push('SIGNING_KEYS_ENCRYPTION_KEY (production encrypts the private signing keys at rest)');
    if (resolveSmsProvider(c) === 'outbox') missing.push('SMS_PROVIDER (production does not use the development outbox: webhook with SMS_WEBHOOK_URL + SMS_WEBHOOK_SECRET, or twilio with TWILIO_ACCOUNT_SID + TWILIO_AUTH_TOKEN + TWILIO_FROM)');
    if (missing.length) throw new ConfigError(`NODE_ENV=production refuses development defaults. Set:\n  ${missing.join('\n  ')}`);
    if (c.COOKIE_KEYS!.some((k) => k.length < 32)) throw new ConfigError('COOKIE_KEYS: each key must have at least 32 characters');
  }
  const exampleApp = c.EXAMPLE_APP_ENABLED ?? (c.NODE_ENV === 'development' && c.PORTAL_ENABLED);
  let devSecrets: DevelopmentSecrets | undefined;
  const needDev = !c.COOKIE_KEYS?.length || !c.PORTAL_CLIENT_SECRET || (exampleApp && !c.EXAMPLE_APP_CLIENT_SECRET);
  if (needDev && !production) devSecrets = developmentSecrets(c.DATA_DIR);
  return {
    ...c,
    // A port given without its URL: the URL follows the port.
    ISSUER: raw.ISSUER === undefined && raw.PORT !== undefined ? `http://localhost:${c.PORT}` : c.ISSUER,
    PORTAL_URL: raw.PORTAL_URL === undefined && raw.PORTAL_PORT !== undefined ? `http://localhost:${c.PORTAL_PORT}` : c.PORTAL_URL,
    COOKIE_KEYS: c.COOKIE_KEYS?.length ? c.COOKIE_KEYS : devSecrets!.cookieKeys,
    PORTAL_CLIENT_SECRET: c.PORTAL_CLIENT_SECRET ?? devSecrets?.portalClientSecret ?? '',
    EXAMPLE_APP_ENABLED: exampleApp,
    EXAMPLE_APP_URL: raw.EXAMPLE_APP_URL === undefined && raw.EXAMPLE_APP_PORT !== undefined ? `http://localhost:${c.EXAMPLE_APP_PORT}` : c.EXAMPLE_APP_URL.replace(/\/$/, ''),
    EXAMPLE_APP_CLIENT_SECRET: c.EXAMPLE_APP_CLIENT_SECRET ?? devSecrets?.exampleAppClientSecret ?? '',
    SEED_DEMO: c.SEED_DEMO ?? !production,
    LOG_LEVEL: c.LOG_LEVEL ?? (c.NODE_ENV === 'test' ? 'silent' : 'info'),
    SMS_PROVIDER: resolveSmsProvider(c),
    embeddedDatabase: !c.DATABASE_URL,
    PRODUCER_API_RESOURCE: c.PRODUCER_API_RESOURCE ?? `${(raw.ISSUER === undefined && raw.PORT !== undefined ? `http://localhost:${c.PORT}` : c.ISSUER).replace(/\/$/, '')}/api`,
  };
}

interface DevelopmentSecrets {
  cookieKeys: string[];
  portalClientSecret: string;
  exampleAppClientSecret: string;
}

/**
 * Development secrets, generated once (random, node:crypto) and kept in `DATA_DIR/dev-secrets.json`
 * so that restarts keep sessions and the client secrets of the portal and the example application
 * (a file written before the example application existed gains its secret). Never used in production.
 */
function developmentSecrets(dataDir: string): DevelopmentSecrets {
  const file = path.join(dataDir, 'dev-secrets.json');
  const kept = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<DevelopmentSecrets>) : {};
  if (kept.cookieKeys?.length && kept.portalClientSecret && kept.exampleAppClientSecret) return kept as DevelopmentSecrets;
  const secrets: DevelopmentSecrets = {
    cookieKeys: kept.cookieKeys?.length ? kept.cookieKeys : [randomBytes(32).toString('base64url')],
    portalClientSecret: kept.portalClientSecret ?? randomBytes(32).toString('base64url'),
    exampleAppClientSecret: kept.exampleAppClientSecret ?? randomBytes(32).toString('base64url'),
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/** The SMS transports (see SMS_PROVIDER). */
export type SmsProvider = 'outbox' | 'webhook' | 'twilio';

type SmsSettings = Pick<z.infer<typeof configSchema>, 'SMS_PROVIDER' | 'SMS_WEBHOOK_URL' | 'SMS_WEBHOOK_SECRET' | 'TWILIO_ACCOUNT_SID' | 'TWILIO_AUTH_TOKEN' | 'TWILIO_FROM'>;

/**
 * The SMS transport for these settings: SMS_PROVIDER when set, else `webhook` when SMS_WEBHOOK_URL
 * is set, `twilio` when TWILIO_ACCOUNT_SID is set, else `outbox`.
 */
export function resolveSmsProvider(c: Partial<SmsSettings>): SmsProvider {
  if (c.SMS_PROVIDER) return c.SMS_PROVIDER;
  if (c.SMS_WEBHOOK_URL) return 'webhook';
  if (c.TWILIO_ACCOUNT_SID) return 'twilio';
  return 'outbox';
}

/**
 * Settings the chosen SMS transport lacks (each line names the setting); empty when complete.
 * Production additionally requires an https:// webhook URL.
 */
export function smsSettingProblems(c: Partial<SmsSettings>, production: boolean): string[] {
  const problems: string[] = [];
  const provider = resolveSmsProvider(c);
  if (!c.SMS_PROVIDER && c.SMS_WEBHOOK_URL && c.TWILIO_ACCOUNT_SID) problems.push('SMS_PROVIDER (both SMS_WEBHOOK_URL and TWILIO_ACCOUNT_SID are set: choose webhook or twilio)');
  if (provider === 'webhook') {
    if (!c.SMS_WEBHOOK_URL) problems.push('SMS_WEBHOOK_URL (required for SMS_PROVIDER=webhook)');
    if (!c.SMS_WEBHOOK_SECRET) problems.push('SMS_WEBHOOK_SECRET (required with SMS_WEBHOOK_URL, at least 32 characters)');
    if (production && c.SMS_WEBHOOK_URL && !c.SMS_WEBHOOK_URL.startsWith('https://')) problems.push('SMS_WEBHOOK_URL must be an https:// URL in production');
  }
  if (provider === 'twilio') {
    for (const key of ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM'] as const) {
      if (!c[key]) problems.push(`${key} (required for SMS_PROVIDER=twilio)`);
    }
  }
  return problems;
}
