import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Services } from '../services.ts';
import { devicesPage } from './devices.ts';
import { mobilePage } from './mobile.ts';
import { overviewPage } from './overview.ts';
import { passwordPage } from './password.ts';
import { recentActivityPage } from './recent-activity.ts';
import { sessionsPage } from './sessions.ts';
import { typingPatternPage } from './typing-pattern.ts';
import { mountAccountPages, type AccountPage } from './pages.ts';
import { AccountGuard } from './session.ts';

/**
 * My Account at the IdP (issue 14 item 6), the signed-in person's own sign-in and security pages:
 * - GET /account                      My Account: links to the pages (overview.ts)
 * - GET /account/devices              Remembered devices; POST …/remove, …/remove-all (devices.ts)
 * - GET /account/sessions             Signed-in sessions; POST …/sign-out-others (sessions.ts)
 * - GET|POST /account/password        Change Password (password.ts)
 * - GET|POST /account/mobile          Mobile number (a delegate's own); POST …/confirm, …/remove (mobile.ts)
 * - GET /account/typing-pattern       Typing pattern; POST …/reset (typing-pattern.ts)
 * - GET /account/activity             Recent activity (recent-activity.ts)
 * - GET /account/signin, /account/callback   the session guard's sign-in (session.ts)
 * Every page is a step (pages.ts hosts them); changes need a recent authentication
 * (ACCOUNT_REAUTH_SECONDS). The account is the session's: delegates get the same pages.
 * @returns the guard, for other pages of the signed-in person (e.g. View/Add My Delegates).
 */
export function accountRoutes(router: Router, services: Services, provider: Provider): AccountGuard {
  const guard = new AccountGuard(services, provider);
  guard.routes(router);
  const pages: AccountPage[] = [overviewPage, devicesPage, sessionsPage, passwordPage, mobilePage, typingPatternPage, recentActivityPage];
  mountAccountPages(router, services, guard, pages);
  return guard;
}
