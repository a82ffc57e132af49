import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Provider from 'oidc-provider';
import { existingProducerNumbers, upsertProducers } from './db/repositories/producers.ts';
import { activeTerms, anyTermsVersion, publishTerms } from './db/repositories/terms.ts';
import { registerClient } from './oidc/clients.ts';
import { addResource, findResource } from './oidc/resources.ts';
import { parseProducerCsv } from './producers/csv-import.ts';
import type { Services } from './services.ts';

const configDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../config');

/** The demo producers' CSV shipped in config/ (fictitious people). */
export const DEMO_PRODUCERS_CSV = path.join(configDir, 'demo-producers.csv');
/** The initial Terms of Use text shipped in config/. */
export const INITIAL_TERMS = path.join(configDir, 'terms/terms-of-use.txt');
/** Version label of the initial terms. */
export const INITIAL_TERMS_VERSION = '1.0';

/**
 * Start-up seeding: the initial Terms of Use when none were ever published; the producer API's
 * resource (PRODUCER_API_RESOURCE, scope `hierarchy:read`); the portal's client
 * (first-party, redirect URIs from PORTAL_URL) when the portal is enabled; the example downstream
 * application's client (first-party, URIs from EXAMPLE_APP_URL, back-channel logout) when
 * EXAMPLE_APP_ENABLED; and, when SEED_DEMO,
 * the demo producers from config/demo-producers.csv that are not there yet (restarts are harmless
 * and keep changes made with the CLI).
 */
export async function seed(services: Services, provider: Provider): Promise<void> {
  const { config, db, clock } = services;
  if (!(await activeTerms(db))) {
    if ((await anyTermsVersion(db)) === undefined) await publishTerms(db, INITIAL_TERMS_VERSION, readFileSync(INITIAL_TERMS, 'utf8'), clock.now());
  }
  // The producer API (My Hierarchy): its resource and scope, kept with any scopes added by the CLI.
  const api = await findResource(db, config.PRODUCER_API_RESOURCE);
  if (!api || !api.scopes.includes('hierarchy:read')) {
    await addResource(db, config.PRODUCER_API_RESOURCE, [...new Set([...(api?.scopes ?? []), 'hierarchy:read'])], api?.accessTokenTtl);
  }
  if (config.PORTAL_ENABLED) {
    await registerClient(db, provider, {
      clientId: config.PORTAL_CLIENT_ID,
      clientSecret: config.PORTAL_CLIENT_SECRET,
      name: config.PRODUCT_NAME,
      redirectUris: [new URL('/callback', config.PORTAL_URL).href],
      postLogoutRedirectUris: [new URL('/logged-out', config.PORTAL_URL).href],
      firstParty: true,
      // The portal ends its own session when the IdP session ends (Back-Channel Logout 1.0).
      ...(config.PORTAL_BACKCHANNEL_LOGOUT ? { backchannelLogoutUri: new URL('/backchannel-logout', config.PORTAL_URL).href } : {}),
    });
  }
  if (config.EXAMPLE_APP_ENABLED) {
    // The example downstream application (Quote & Enroll by single sign-on): code flow with PKCE,
    // its session ended by the IdP's logout tokens (Back-Channel Logout 1.0).
    await registerClient(db, provider, {
      clientId: config.EXAMPLE_APP_CLIENT_ID,
      clientSecret: config.EXAMPLE_APP_CLIENT_SECRET,
      name: 'Example downstream application',
      redirectUris: [new URL('/callback', config.EXAMPLE_APP_URL).href],
      postLogoutRedirectUris: [new URL('/logged-out', config.EXAMPLE_APP_URL).href],
      firstParty: true,
      backchannelLogoutUri: new URL('/backchannel-logout', config.EXAMPLE_APP_URL).href,
    });
  }
  if (config.SEED_DEMO) {
    const { records, errors } = parseProducerCsv(readFileSync(DEMO_PRODUCERS_CSV, 'utf8'));
    if (errors.length) throw new Error(`config/demo-producers.csv is invalid: ${errors.map((e) => `line ${e.line}: ${e.reason}`).join('; ')}`);
    // Only the demo producers that are missing: changes made with the CLI (e.g. status) survive restarts.
    const existing = await existingProducerNumbers(db, records.map((r) => r.producerNumber));
    await db.transaction().execute((trx) => upsertProducers(trx, records.filter((r) => !existing.has(r.producerNumber))));
  }
}
