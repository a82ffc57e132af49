import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPortalApp } from '../../src/portal/app.ts';
import { startIdp, type TestIdp } from './idp.ts';

/** The portal's client secret as the test IdP seeds it (PORTAL_CLIENT_SECRET). */
export const PORTAL_TEST_SECRET = 'portal-secret-0123456789abcdefghijklmnopqrstuvwxyz';

/** A test IdP and the producer portal (its relying party) on a port of its own, for journeys in a browser. */
export interface IdpWithPortal {
  idp: TestIdp;
  portalUrl: string;
  /** Stops the portal, then the IdP. */
  stop(): Promise<void>;
}

type PortalOptions = Parameters<typeof createPortalApp>[0];

/**
 * Starts the portal's listener first (the IdP seeds the portal's client with PORTAL_URL's
 * `/callback` and `/logged-out`), then a test IdP ({@link startIdp} with `idpEnv`), then the portal
 * app against it with test settings (no Secure cookies, plain http allowed, quiet logs) and
 * `portal` options on top.
 */
export async function startIdpWithPortal(idpEnv: Record<string, unknown> = {}, portal: (idp: TestIdp) => Partial<PortalOptions> = () => ({})): Promise<IdpWithPortal> {
  const portalServer = http.createServer();
  await new Promise<void>((resolve) => portalServer.listen(0, '127.0.0.1', () => resolve()));
  const portalUrl = `http://127.0.0.1:${(portalServer.address() as AddressInfo).port}`;
  const idp = await startIdp({ PORTAL_URL: portalUrl, PORTAL_CLIENT_SECRET: PORTAL_TEST_SECRET, ...idpEnv });
  const app = createPortalApp({
    portalUrl,
    issuer: idp.url,
    clientId: idp.config.PORTAL_CLIENT_ID,
    clientSecret: PORTAL_TEST_SECRET,
    cookieKeys: ['portal-test-cookie-key-0123456789abcdef'],
    secureCookies: false,
    productName: idp.config.PRODUCT_NAME,
    organizationName: idp.config.ORGANIZATION_NAME,
    allowInsecureRequests: true,
    logger: { warn: () => undefined, error: (obj, msg) => console.error(`[portal] ${msg}`, obj) },
    ...portal(idp),
  });
  portalServer.on('request', app.callback());
  return {
    idp,
    portalUrl,
    async stop() {
      portalServer.closeAllConnections();
      await new Promise<void>((resolve) => portalServer.close(() => resolve()));
      await idp.stop();
    },
  };
}
