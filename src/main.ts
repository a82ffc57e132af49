// First: libuv's pool is sized before anything uses it (issue 12).
import './threadpool.ts';
import type { Server } from 'node:http';
import { createIdp } from './app.ts';
import { buildServices } from './bootstrap.ts';
import type { Services } from './services.ts';
import { ConfigError, loadConfig, type Config } from './config/index.ts';
import { DatabaseConfigError, DatabaseUnreachableError } from './db/availability.ts';
import { EmbeddedDatabaseBusyError } from './db/embedded-lock.ts';
import { startMetricsServer } from './observability/metrics-server.ts';
import { schedulePurge } from './operator/purge.ts';
import { stopBackchannelDelivery } from './oidc/backchannel.ts';
import { findProducer } from './db/repositories/producers.ts';
import { createPortalApp } from './portal/app.ts';
import { PgSessionStore, type PortalSessionDatabase } from './portal/session.ts';
import { createExampleApp } from './example-app/app.ts';
import type { Kysely } from 'kysely';
import { parseProducerCsv } from './producers/csv-import.ts';
import { DEMO_PRODUCERS_CSV, seed } from './seed.ts';
import { readFileSync } from 'node:fs';

/** The Resources page's entries when PORTAL_RESOURCES is unset (fictitious, for development). */
const DEVELOPMENT_RESOURCES = [
  { title: 'Producer portal user guide', url: 'https://example.com/producer-guide.pdf', description: 'Registration, sign-in, Verify your Account and account recovery, step by step.', group: 'Getting started' },
  { title: 'Frequently asked questions', url: 'https://example.com/producer-faq', description: 'Answers to the questions producers ask the Help Desk most.', group: 'Getting started' },
  { title: 'Plan brochures and rates', url: 'https://example.com/plans', description: 'ACA Medical, ACA Dental, MAPD, PDP, DSNP and Med Supp materials by state.', group: 'Selling' },
  { title: 'Enrollment forms', url: 'https://example.com/forms', description: 'Paper applications and change forms.', group: 'Selling' },
  { title: 'Commission schedules', url: 'https://example.com/commissions', description: 'Current schedules and payment calendar.', group: 'Compensation' },
];

/**
 * The portal's Home links when PORTAL_HOME_LINKS is unset: the example downstream application's
 * Quote & Enroll and Commissions & Reporting pages when it runs (development), else none.
 */
function defaultHomeLinks(config: Config) {
  if (!config.EXAMPLE_APP_ENABLED) return [];
  return [
    { label: 'Quote & Enroll', url: `${config.EXAMPLE_APP_URL}/quote-enroll`, description: 'Quote plans and enroll clients (the example downstream application: signed in by single sign-on).', newTab: true },
    { label: 'Commissions & Reporting', url: `${config.EXAMPLE_APP_URL}/commissions-reporting`, description: 'Commission statements and reports (the example downstream application).', newTab: true },
  ];
}

/** The lines printed at start: where the IdP, portal, metrics, health, outbox and database are; the demo producers. */
async function startBanner(config: Config, services: Services, databaseKind: 'postgres' | 'pglite'): Promise<string> {
  const lines = [
    '',
    `  ${config.PRODUCT_NAME} identity provider`,
    `  Issuer (IdP):   ${config.ISSUER}   discovery: ${config.ISSUER}/.well-known/openid-configuration`,
  ];
  if (config.PORTAL_ENABLED) lines.push(`  Portal (RP):    ${config.PORTAL_URL}   <- open this to sign in or register`);
  if (config.EXAMPLE_APP_ENABLED) lines.push(`  Example app:    ${config.EXAMPLE_APP_URL}   (Quote & Enroll from the portal's Home, by single sign-on)`);
  if (config.METRICS_PORT) lines.push(`  Metrics:        http://${config.METRICS_HOST}:${config.METRICS_PORT}/metrics   (Prometheus)`);
  lines.push(`  Health:         ${config.ISSUER}/healthz (liveness)   ${config.ISSUER}/readyz (readiness)`);
  if (services.mailer.outbox) lines.push(`  Mail outbox:    ${config.ISSUER}/dev/outbox   (development: mail is kept here, not sent)`);
  lines.push(`  Database:       ${databaseKind === 'pglite' ? `embedded PGlite in ${config.DATA_DIR}/pglite` : 'PostgreSQL (DATABASE_URL)'}`);
  if (config.SEED_DEMO) {
    lines.push('', '  Demo producers (register with: Producer Number, National Producer Number, Zip Code):');
    const { records } = parseProducerCsv(readFileSync(DEMO_PRODUCERS_CSV, 'utf8'));
    for (const r of records) {
      const live = await findProducer(services.db, r.producerNumber);
      lines.push(`    ${r.producerNumber}  NPN ${r.npn.padEnd(10)} ZIP ${r.businessZip}  ${r.firstName} ${r.lastName}${live?.status === 'inactive' ? '  (inactive: cannot register)' : ''}`);
    }
  }
  return `${lines.join('\n')}\n\n`;
}

/** Relying-party sessions in the IdP's database (`portal_sessions`), shared by every replica of one client. */
function sessionStore(services: Services, clientId: string): PgSessionStore {
  return new PgSessionStore(services.db as unknown as Kysely<PortalSessionDatabase>, clientId);
}

/** The portal (relying party) as `npm start` runs it. */
function portalApp(config: Config, services: Services) {
  return createPortalApp({
    sessions: sessionStore(services, config.PORTAL_CLIENT_ID),
    portalUrl: config.PORTAL_URL,
    issuer: config.ISSUER,
    clientId: config.PORTAL_CLIENT_ID,
    clientSecret: config.PORTAL_CLIENT_SECRET,
    cookieKeys: config.COOKIE_KEYS,
    secureCookies: config.NODE_ENV === 'production',
    productName: config.PRODUCT_NAME,
    organizationName: config.ORGANIZATION_NAME,
    allowInsecureRequests: config.ISSUER.startsWith('http:'),
    logger: services.logger,
    hierarchyApi: { resource: config.PRODUCER_API_RESOURCE, url: `${config.ISSUER.replace(/\/$/, '')}/api/producers/me/hierarchy` },
    homeLinks: config.PORTAL_HOME_LINKS ?? defaultHomeLinks(config),
    resources: config.PORTAL_RESOURCES ?? DEVELOPMENT_RESOURCES,
    issueReports: { to: config.REPORT_ISSUE_EMAIL ?? config.SUPPORT_EMAIL, send: (mail) => services.mailer.send(mail) },
  });
}

/** The example downstream application (Quote & Enroll by single sign-on) as `npm start` runs it. */
function exampleApp(config: Config, services: Services) {
  return createExampleApp({
    appUrl: config.EXAMPLE_APP_URL,
    portalHomeUrl: config.PORTAL_URL,
    issuer: config.ISSUER,
    clientId: config.EXAMPLE_APP_CLIENT_ID,
    clientSecret: config.EXAMPLE_APP_CLIENT_SECRET,
    cookieKeys: config.COOKIE_KEYS,
    secureCookies: config.NODE_ENV === 'production',
    productName: 'Example downstream application',
    organizationName: config.ORGANIZATION_NAME,
    allowInsecureRequests: config.ISSUER.startsWith('http:'),
    logger: services.logger,
    sessions: sessionStore(services, config.EXAMPLE_APP_CLIENT_ID),
  });
}

/**
 * Process entry (`npm start`): load configuration, open and migrate the database, seed, start the
 * IdP on PORT, (unless PORTAL_ENABLED=false) the portal on PORTAL_PORT and (when
 * EXAMPLE_APP_ENABLED, the default outside production) the example downstream application on
 * EXAMPLE_APP_PORT; drain on SIGTERM/SIGINT.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const { services, database } = await buildServices(config);
  const provider = await createIdp(services);
  await seed(services, provider);

  const servers: Server[] = [];
  /** Listens, or exits with a clear message when the port is taken (no stack trace). */
  const listen = (app: { listen(port: number, host?: string): Server }, port: number, what: string, setting: string) =>
    new Promise<Server>((resolve) => {
      const server = config.HOST ? app.listen(port, config.HOST) : app.listen(port);
      server.once('listening', () => resolve(server));
      server.once('error', (err: NodeJS.ErrnoException) => {
        process.stderr.write(`${what} cannot listen on port ${port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}.\n` +
          `Set ${setting} (and its URL) to another port, e.g. ${setting}=${port + 100}.\n`);
        process.exit(1);
      });
    });
  servers.push(await listen(provider, config.PORT, 'The identity provider', 'PORT'));
  if (config.METRICS_PORT) {
    servers.push(await startMetricsServer(services.metrics, config.METRICS_PORT, config.METRICS_HOST).catch((err: NodeJS.ErrnoException) => {
      process.stderr.write(`The metrics listener cannot listen on ${config.METRICS_HOST}:${config.METRICS_PORT}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}. Set METRICS_PORT to another port.\n`);
      process.exit(1);
    }));
  }
  if (config.PORTAL_ENABLED) servers.push(await listen(portalApp(config, services), config.PORTAL_PORT, 'The portal', 'PORTAL_PORT'));
  if (config.EXAMPLE_APP_ENABLED) servers.push(await listen(exampleApp(config, services), config.EXAMPLE_APP_PORT, 'The example application', 'EXAMPLE_APP_PORT'));

  process.stdout.write(await startBanner(config, services, database.kind));

  const stopPurge = config.PURGE_INTERVAL_SECONDS > 0
    ? schedulePurge({ db: services.db, now: () => services.clock.now(), intervalSeconds: config.PURGE_INTERVAL_SECONDS, auditRetentionDays: config.AUDIT_RETENTION_DAYS, lockoutSeconds: config.LOCKOUT_SECONDS, logger: services.logger })
    : () => {};

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    services.logger.info({ signal }, 'shutting down');
    stopPurge();
    await stopBackchannelDelivery(provider);
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => { s.close(() => resolve()); s.closeIdleConnections?.(); })));
    await services.settle();
    await database.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  if (err instanceof DatabaseUnreachableError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(69); // EX_UNAVAILABLE
  }
  if (err instanceof ConfigError || err instanceof EmbeddedDatabaseBusyError || err instanceof DatabaseConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(78);
  }
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
