import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endAccountSessions } from '../../src/oidc/revocation.ts';
import { createPortalApp } from '../../src/portal/app.ts';
import { createAccount, followToClient, signIn } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

// The real IdP and the real portal, each on its own port: the portal registers its back-channel
// logout URI (PORTAL_BACKCHANNEL_LOGOUT) and ends its own session when the IdP says so.
let idp: TestIdp;
let portal: Server;
let portalUrl: string;
let accountId: string;

beforeAll(async () => {
  portal = createServer();
  await new Promise<void>((resolve) => portal.listen(0, '127.0.0.1', () => resolve()));
  portalUrl = `http://127.0.0.1:${(portal.address() as AddressInfo).port}`;
  idp = await startIdp({ PORTAL_URL: portalUrl, PORTAL_BACKCHANNEL_LOGOUT: true });
  accountId = await createAccount(idp, { producerNumber: '000104201', username: 'AveryPortalBc' });
  const app = createPortalApp({
    portalUrl, issuer: idp.url, clientId: idp.config.PORTAL_CLIENT_ID, clientSecret: idp.config.PORTAL_CLIENT_SECRET,
    cookieKeys: ['portal-bc-test-key'], secureCookies: false, productName: 'Producer Experience Portal', organizationName: 'Example Mutual',
    allowInsecureRequests: true, logger: { warn: () => {}, error: () => {} },
  });
  portal.on('request', app.callback());
});
afterAll(async () => {
  await idp?.stop();
  portal?.closeAllConnections();
  await new Promise((resolve) => portal?.close(resolve));
});

/** A browser's cookies for the portal (the IdP's live in the supertest agent). */
class PortalBrowser {
  cookies = new Map<string, string>();
  async get(pathAndQuery: string): Promise<Response> {
    const res = await fetch(`${portalUrl}${pathAndQuery}`, { redirect: 'manual', headers: { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    return res;
  }
}

describe('portal back-channel logout', () => {
  it('the portal session ends when the producer\'s IdP sessions end', async () => {
    const browser = new PortalBrowser();
    const start = await browser.get('/');
    expect(start.status).toBe(302);
    const auth = new URL(start.headers.get('location')!);
    const agent = request.agent(idp.server);
    const toInteraction = await agent.get(auth.pathname + auth.search);
    const uid = new URL(toInteraction.headers.location, idp.url).pathname.split('/')[2]!;
    const login = await signIn(idp, agent, uid, 'AveryPortalBc');
    const { redirect } = await followToClient(idp, agent, login.headers.location);
    expect(redirect!.origin).toBe(portalUrl);
    const callback = await browser.get(redirect!.pathname + redirect!.search);
    expect(callback.status).toBe(303);
    expect((await browser.get('/')).status).toBe(200);

    // The Service Desk signs the account out everywhere (accounts sign-out).
    await endAccountSessions(idp.services.db, accountId, 'signed_out');
    let status = 200;
    for (let i = 0; i < 100 && status === 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await browser.get('/')).status;
    }
    expect(status).toBe(302); // signed out of the portal: back to the IdP to sign in
    const audited = () => idp.services.db.selectFrom('audit_events').select(['type', 'details']).where('client_id', '=', idp.config.PORTAL_CLIENT_ID).where('type', 'like', 'backchannel_logout.%').execute();
    let events = await audited();
    for (let i = 0; i < 50 && events.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100)); // the audit row follows the relying party's answer
      events = await audited();
    }
    expect(events).toEqual([{ type: 'backchannel_logout.delivered', details: expect.objectContaining({ reason: 'signed_out' }) }]);
  });

  it('refuses a forged logout token with 400', async () => {
    const res = await fetch(`${portalUrl}/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'logout_token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toBe('invalid_request');
  });
});
