/**
 * The example downstream application (issue 13; guide slide 18, "Quote & Enroll" and "Commissions &
 * Reporting"): a relying party of its own, with its own client, started by `npm start` in
 * development to show single sign-on from the portal's Home.
 *
 * Following a Home link here sends the browser to the IdP, which signs the producer in from its own
 * session (no password, no second factor) and returns a code; the page then shows who is signed in
 * (name, producer number, and the ID token's `amr` and `acr`). Its session ends when the IdP sends a
 * logout token (OpenID Connect Back-Channel Logout 1.0), e.g. after Logout at the portal; the page
 * then says so instead of signing in again silently.
 *
 * It reuses the portal's relying-party code (src/portal/app.ts `createRelyingPartyApp`,
 * src/portal/sign-in.ts) and session store; only its pages are its own.
 *
 * Routes: GET /, /quote-enroll, /commissions-reporting (who is signed in; sign-in when the browser
 * has no session), GET /sign-in?return_to=, and the shared /callback, /logout, /logged-out,
 * /backchannel-logout, /health.
 */
import type Koa from 'koa';
import type { Context } from 'koa';
import { Router } from '@koa/router';

import { createRelyingPartyApp, type RelyingPartyAppOptions } from '../portal/app.ts';
import type { SignedInUser } from '../portal/session.ts';
import { safeReturnTo } from '../portal/security.ts';
import { displayName, mayUse, workingFor, type DelegatePermission } from '../portal/views.ts';

/** Scopes the example application asks for: who the producer is, nothing else. */
export const EXAMPLE_APP_SCOPES = 'openid profile producer';

/** The example application's pages: path → title. */
export const EXAMPLE_APP_PAGES: ReadonlyArray<readonly [string, string, DelegatePermission | undefined]> = [
  ['/', 'Example downstream application', undefined],
  ['/quote-enroll', 'Quote & Enroll', 'quote_enroll'],
  ['/commissions-reporting', 'Commissions & Reporting', 'commissions_reporting'],
];

export interface ExampleAppOptions extends Omit<RelyingPartyAppOptions, 'portalUrl'> {
  /** Public origin of this application, e.g. `http://localhost:3002`. */
  appUrl: string;
  /** The portal's URL, for the "Back to the portal" link. */
  portalHomeUrl: string;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** What the page shows about the signed-in producer: name, producer number, and the ID token's amr and acr. */
export function whoIsSignedIn(user: SignedInUser): { label: string; value: string }[] {
  const amr = Array.isArray(user.claims.amr) ? user.claims.amr.filter((v): v is string => typeof v === 'string') : [];
  // Issue 14: a delegate is never taken for the producer: the `delegation` claim says for whom they work.
  const forWhom = workingFor(user);
  return [
    { label: 'Name', value: displayName(user) },
    ...(forWhom
      ? [{ label: 'Working for', value: `${forWhom.name} (${forWhom.producerNumber}), as a delegate` }]
      : [{ label: 'Producer Number', value: text(user.claims.producer_number) ?? 'Not provided' }]),
    { label: 'Authentication methods (amr)', value: amr.length ? amr.join(', ') : 'Not provided' },
    { label: 'Authentication context (acr)', value: text(user.claims.acr) ?? 'Not provided' },
    { label: 'Signed in at', value: new Date(user.signedInAt).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' },
  ];
}

/**
 * Creates the example downstream application (a Koa app).
 * @param opts see {@link ExampleAppOptions}; the IdP must have the client registered with
 *   redirect_uris `[appUrl + '/callback']`, post_logout_redirect_uris `[appUrl + '/logged-out']`
 *   and backchannel_logout_uri `appUrl + '/backchannel-logout'` (src/seed.ts does it).
 * @throws TypeError as src/portal/app.ts `createRelyingPartyApp` for bad URLs or cookie keys.
 */
export function createExampleApp(opts: ExampleAppOptions): Koa {
  const rpApp = createRelyingPartyApp({ ...opts, portalUrl: opts.appUrl, scope: EXAMPLE_APP_SCOPES }, [], 'example_app_sid');
  const { signIn, renderPage } = rpApp;
  const routes = new Router();

  const show = async (ctx: Context, title: string, permission: DelegatePermission | undefined) => {
    const user = signIn.sessionOf(ctx)?.data.user;
    // Issue 14: a delegate uses only the applications their permissions (`delegation.permissions`) allow.
    if (user && !mayUse(user, permission)) return rpApp.renderMessage(ctx, { status: 403, title: 'portal.permission_missing.title', message: 'portal.permission_missing.message', tone: 'error', link: { href: opts.portalHomeUrl, label: 'portal.link.home' } });
    if (user) return renderPage(ctx, 'example-app', title, { who: whoIsSignedIn(user), signedOut: false, portalHomeUrl: opts.portalHomeUrl });
    if (!signIn.sessionEnded(ctx)) return signIn.startSignIn(ctx);
    // The browser had a session here and it ended (back-channel logout, or expiry): say so once,
    // and let the next visit sign in again.
    signIn.forget(ctx);
    return renderPage(ctx, 'example-app', title, { who: null, signedOut: true, signInHref: `/sign-in?return_to=${encodeURIComponent(ctx.path)}`, portalHomeUrl: opts.portalHomeUrl });
  };
  for (const [path, title, permission] of EXAMPLE_APP_PAGES) routes.get(path, (ctx) => show(ctx, title, permission));
  routes.get('/sign-in', (ctx) => {
    const to = safeReturnTo(typeof ctx.query.return_to === 'string' ? ctx.query.return_to : '/');
    // Never back to /sign-in itself (that would sign in again, forever).
    return signIn.startSignIn(ctx, to.split(/[?#]/, 1)[0] === '/sign-in' ? '/' : to);
  });

  rpApp.mount(routes, true);
  return rpApp.app;
}
