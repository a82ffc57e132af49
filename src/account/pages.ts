import type Router from '@koa/router';
import type { Context } from 'koa';
import { render } from '../http/render.ts';
import { AppError } from '../http/errors.ts';
import type { Services } from '../services.ts';
import { postStep, type Position, type StepHost } from '../steps/engine.ts';
import { requestInfo, type Page, type Step, type StepContextBase, type StepResult } from '../steps/step.ts';
import type { AccountGuard, AccountSession } from './session.ts';

/** What an account page sees: the signed-in person (the step's state) and the services. */
export interface AccountContext extends StepContextBase<AccountSession> {
  services: Services;
  guard: AccountGuard;
}

/** One button of an account page: POST `path`, run like the step (its own input and submit). */
export interface AccountAction {
  path: string;
  input?: AccountPage['input'];
  rateLimit?: string;
  submit: AccountPage['submit'];
}

/**
 * One page of My Account (a Step, ARCHITECTURE "How a step works"). GET `path` shows it to the
 * signed-in person; POST `path` (when it has `submit`'s form) and each of `actions` change
 * something: every POST checks CSRF first, then the session, then — a change — a recent
 * authentication (ACCOUNT_REAUTH_SECONDS). `notices`: the `?done=` values the page may announce
 * after a change (GET-after-POST: a change answers 303 to the page with `?done=<key>`).
 */
export interface AccountPage<I = any> extends Step<AccountContext, AccountSession, I> {
  path: string;
  /** false: the page has no form of its own at `path` (only `actions`). */
  postsHere?: boolean;
  actions?: AccountAction[];
  /** A GET needs a recent authentication too (a page that is all form, e.g. Change Password). */
  recentAuthToView?: boolean;
  notices?: Record<string, string>;
}

/** The account pages' links (the navigation of every page), in order. */
export const ACCOUNT_NAV = [
  { href: '/account', label: 'My Account' },
  { href: '/account/devices', label: 'Remembered devices' },
  { href: '/account/sessions', label: 'Signed-in sessions' },
  { href: '/account/password', label: 'Change Password' },
  { href: '/account/mobile', label: 'Mobile number' },
  { href: '/account/typing-pattern', label: 'Typing pattern' },
  { href: '/account/activity', label: 'Recent activity' },
] as const;

/** A time for the account pages: `2026-11-30 14:05 UTC` (UTC, to the minute). */
export function formatTime(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A change is done: 303 back to `path` with the page's notice `done`. */
export function doneAt(path: string, done: string): StepResult<AccountSession> {
  return { kind: 'finish', redirect: `${path}?done=${encodeURIComponent(done)}` };
}

/** The account pages' host of the step engine: the state is the IdP session (nothing to save). */
class AccountHost implements StepHost<AccountContext, AccountSession> {
  readonly #portalUrl: string;
  constructor(services: Services) {
    this.#portalUrl = services.config.PORTAL_URL;
  }

  async show(step: Step<AccountContext, AccountSession, unknown>, c: AccountContext, page: Page): Promise<void> {
    const own = step as AccountPage;
    const data = { ...(await step.model(c)), ...page.data };
    await render(c.ctx, page.view ?? step.view, {
      nav: ACCOUNT_NAV,
      current: own.path,
      portalUrl: this.#portalUrl,
      displayName: `${c.state.account.producer.firstName} ${c.state.account.producer.lastName}`,
      username: c.state.account.username,
      ...data,
    }, page.status);
  }

  async save(): Promise<void> {
    // The state is the IdP session itself; a step changes the database, never the state.
  }

  /** A form whose CSRF token failed: the 403 error page ("Please try again"); nothing is written. */
  async refuse(_ctx: Context, refusal: AppError): Promise<never> {
    throw refusal;
  }

  /** Never reached: without a session the guard answers (303 to sign in) before any step. */
  async startOver(): Promise<never> {
    throw new AppError('http.bad_request', 400);
  }

  async settle(step: Step<AccountContext, AccountSession, unknown>, c: AccountContext, result: Exclude<StepResult<AccountSession>, { kind: 'retry' }>): Promise<void> {
    const { ctx } = c;
    if (result.kind === 'finish' && 'redirect' in result) {
      ctx.status = 303;
      ctx.redirect(result.redirect);
    } else if (result.kind === 'finish' && 'page' in result) {
      await this.show(step, c, result.page);
    } else {
      ctx.status = 303;
      ctx.redirect((step as AccountPage).path);
    }
  }
}

/**
 * Mounts the account pages (src/account/index.ts lists them). GET: the signed-in person (else the
 * sign-in, {@link AccountGuard.require}) sees the page, with the notice named by `?done=` when the
 * page lists it. POST: CSRF first (403 page, nothing read or written), then the session (none: 303
 * to the sign-in, returning to the page), then a recent authentication (older than
 * ACCOUNT_REAUTH_SECONDS: 303 to sign in again, returning to the page), then the engine
 * ({@link runStep}: input 422, rate limit 429, submit).
 */
export function mountAccountPages(router: Router, services: Services, guard: AccountGuard, pages: AccountPage[]): void {
  const host = new AccountHost(services);
  const context = (ctx: Context, s: AccountSession): AccountContext => ({ ctx, state: s, info: requestInfo(ctx), services, guard });
  for (const page of pages) {
    router.get(page.path, async (ctx) => {
      const s = await guard.require(ctx, page.path);
      if (!s) return;
      if (page.recentAuthToView && !guard.requireRecentAuth(ctx, s, page.path)) return;
      const done = typeof ctx.query.done === 'string' ? page.notices?.[ctx.query.done] : undefined;
      await host.show(page, context(ctx, s), { status: 200, data: done ? { notice: done } : {} });
    });
    const posts: AccountAction[] = [...(page.postsHere === false ? [] : [{ path: page.path, input: page.input, rateLimit: page.rateLimit, submit: page.submit }]), ...(page.actions ?? [])];
    for (const post of posts) {
      const step: AccountPage = { ...page, input: post.input, rateLimit: post.rateLimit, submit: post.submit };
      // The engine checks CSRF first; then the session and a recent sign-in (else 303 to sign in).
      router.post(post.path, (ctx) => postStep(services, host, ctx, async (): Promise<Position<AccountContext>> => {
        const s = await guard.require(ctx, page.path);
        if (!s || !guard.requireRecentAuth(ctx, s, page.path)) return { at: 'shown' };
        return { at: 'here', c: context(ctx, s) };
      }, () => step as Step<AccountContext, AccountSession, unknown>));
    }
  }
}
