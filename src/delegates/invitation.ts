import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { activeTerms } from '../db/repositories/terms.ts';
import { mountFlow, type FlowDefinition, type FlowState, type FlowStep } from '../flows/flow.ts';
import { CREATE_LOGIN_FORM, takenUsername } from '../flows/registration/create-login.ts';
import { PASSWORD_RULES } from '../security/password-policy.ts';
import { hashToken, randomToken } from '../security/tokens.ts';
import type { Services } from '../services.ts';
import { optionalText } from '../steps/fields.ts';
import { field, type Page } from '../steps/step.ts';
import { acceptWithAccount, invitationOfLink, registerDelegate, type AcceptRefusal } from './service.ts';
import type { AccountGuard } from '../account/session.ts';

/** Rate-limit name of the invitation's pages per client address (app.ts; RATE_LIMIT_REGISTER_POINTS). */
export const DELEGATE_ACCEPT_IP_LIMIT = 'delegate_accept_ip';

/** The state of a delegate's registration: where it stands and the link's hash (never the token). */
export interface InvitationState extends FlowState {
  step: 'accept' | 'terms' | 'login';
  tokenHash?: string;
  producerName?: string;
  termsVersion?: string;
}

type InvitationStep<I = Record<string, unknown>> = FlowStep<InvitationState, I>;

/** The IdP session guard (src/account/session.ts), put on the request by {@link invitationPages}. */
function guardOf(ctx: { state: Record<string, unknown> }): AccountGuard {
  return ctx.state.accountGuard as AccountGuard;
}

const REFUSALS: Record<AcceptRefusal, string> = {
  invalid: 'invite.invalid',
  self: 'invite.self',
  already_delegate: 'invite.already_delegate',
  username_taken: 'username.taken',
};

/** The page that ends the invitation (accepted, registered, or refused), with a way to the portal. */
function donePage(config: Services['config'], status: number, data: Record<string, unknown>): Page {
  return { status, view: 'idp/delegate-accept', data: { title: 'Delegate Invitation', confirm: false, portalUrl: config.PORTAL_URL, ...data } };
}

/**
 * The invitation link (issue 14 item 2): GET /delegates/accept?token=… shows a page with one button
 * (GET and HEAD change nothing: a mail scanner must not use the link up); only its POST acts:
 * signed in at the IdP → the invitation is accepted for that account (after a sign-in older than
 * ACCOUNT_REAUTH_SECONDS: 303 to sign in again, back to this page, nothing changed); not signed in → the
 * delegate's registration begins (Terms of Use, then Create Your Secure Login).
 */
const acceptStep: InvitationStep<{ token?: string }> = {
  name: 'accept',
  path: '/delegates/accept',
  view: 'idp/delegate-accept',
  at: 'start',
  input: z.object({ token: optionalText }),
  rateLimit: DELEGATE_ACCEPT_IP_LIMIT,
  storeOnEnter: false,
  async enter({ ctx, services }) {
    const token = ctx.method === 'POST' ? field((ctx.request as { body?: Record<string, unknown> }).body ?? {}, 'token') : typeof ctx.query.token === 'string' ? ctx.query.token : undefined;
    const invitation = await invitationOfLink(services, token);
    if (!invitation) return donePage(services.config, 400, { formError: 'invite.invalid' });
    return { state: { step: 'accept', producerName: invitation.producerName, tokenHash: hashToken(token!) } };
  },
  async model(c) {
    const token = typeof c.ctx.query.token === 'string' ? c.ctx.query.token : field((c.ctx.request as { body?: Record<string, unknown> }).body ?? {}, 'token') ?? '';
    const account = (await guardOf(c.ctx).current(c.ctx))?.account;
    // The producer who sent it, signed in: say at once that it cannot be theirs (no button to press).
    const own = account ? (await invitationOfLink(c.services, token))?.producerAccountId === account.id : false;
    return {
      title: 'Delegate Invitation',
      confirm: !own,
      ...(own ? { formError: 'invite.self' } : {}),
      token,
      producerName: c.state?.producerName ?? '',
      signedInAs: account ? `${account.producer.firstName} ${account.producer.lastName} (${account.username})` : null,
      // "I already have a login": sign in at the IdP, then back to this page.
      signInUrl: `/account/signin?${new URLSearchParams({ return: `/delegates/accept?token=${token}` })}`,
      portalUrl: c.services.config.PORTAL_URL,
    };
  },
  async submit(c, { token }) {
    const { services } = c;
    const session = await guardOf(c.ctx).current(c.ctx);
    const account = session?.account;
    if (session && account) {
      // Accepting changes the signed-in account: a recent sign-in, as every change of My Account.
      const reauth = guardOf(c.ctx).reauthPathIfStale(session, `/delegates/accept?${new URLSearchParams({ token: token ?? '' })}`);
      if (reauth) return { kind: 'finish', redirect: reauth };
      const out = await acceptWithAccount(services, token, account, c.info);
      if (!out.ok) return { kind: 'finish', page: donePage(services.config, 409, { formError: REFUSALS[out.reason] }) };
      return { kind: 'finish', page: donePage(services.config, 200, { notice: 'invite.accepted', noticeParams: { producer: out.producerName } }) };
    }
    const invitation = await invitationOfLink(services, token);
    if (!invitation) return { kind: 'finish', page: donePage(services.config, 400, { formError: 'invite.invalid' }) };
    return { kind: 'next', state: { step: 'terms', tokenHash: hashToken(token!), producerName: invitation.producerName } };
  },
};

/** The delegate's Terms of Use (as registration's, guide slide 3): Accept goes on, Reject ends. */
const termsStep: InvitationStep<{ decision?: string; version?: string }> = {
  name: 'terms',
  path: '/delegates/register',
  postPath: '/delegates/register/terms',
  view: 'idp/terms',
  at: ['terms', 'login'],
  input: z.object({ decision: optionalText, version: optionalText }),
  async model({ services }) {
    return { title: 'Terms of Use', terms: await activeTerms(services.db), mode: 'delegate' };
  },
  async submit(c, { decision, version }) {
    const { services, state } = c;
    if (decision === 'reject') return { kind: 'finish', page: donePage(services.config, 200, { formError: 'terms.rejected_invitation' }) };
    const terms = await activeTerms(services.db);
    if (!terms || decision !== 'accept' || version !== terms.version) return { kind: 'retry', status: 422, formError: 'terms.must_accept' };
    return { kind: 'next', state: { ...state, step: 'login', termsVersion: terms.version } };
  },
};

/**
 * "Create Your Secure Login" for a delegate: the same username and password rules as a producer's
 * registration (guide slide 4), under the same per-address limit (REGISTER_IP_LIMIT: 429 with
 * Retry-After beyond it; whether a username is taken is asked only within it); creates the
 * delegate's account with the invited names and email (confirmed by the link itself) and accepts
 * the invitation, in one transaction.
 */
const loginStep: InvitationStep<{ username: string; password: string }> = {
  ...CREATE_LOGIN_FORM,
  path: '/delegates/register/login',
  async model() {
    return { title: 'Create Your Secure Login', rules: PASSWORD_RULES, formAction: '/delegates/register/login', delegate: true };
  },
  async submit(c, { username, password }) {
    const { services, state } = c;
    if (!state.tokenHash || !state.termsVersion) return { kind: 'finish', restart: { status: 409, formError: 'register.flow_expired' } };
    const terms = await activeTerms(services.db);
    if (!terms || terms.version !== state.termsVersion) return { kind: 'retry', status: 409, formError: 'terms.must_accept', state: { ...state, step: 'terms' } };
    const taken = await takenUsername(services.db, username);
    if (taken) return taken;
    const passwordHash = await services.hasher.hash(password);
    const out = await registerDelegate(services, state.tokenHash, { accountId: randomToken(16), username, passwordHash, termsVersion: terms.version }, c.info);
    if (!out.ok && out.reason === 'username_taken') return { kind: 'retry', status: 409, errors: { username: ['username.taken'] } };
    if (!out.ok) return { kind: 'finish', page: donePage(services.config, 409, { formError: REFUSALS[out.reason] }) };
    return { kind: 'finish', page: donePage(services.config, 200, { notice: 'invite.registered', noticeParams: { producer: out.producerName } }) };
  },
};

/** The invitation's flow (issue 14 item 2): accept, then (without an account) Terms of Use and Create Your Secure Login. */
function invitationFlow(config: Services['config']): FlowDefinition<InvitationState> {
  return {
    kind: 'delegate-invitation',
    ttlSeconds: config.REGISTRATION_FLOW_TTL_SECONDS,
    steps: [acceptStep, termsStep, loginStep],
    restartPage: (_c, { expired }) => donePage(config, 409, { formError: expired ? 'register.flow_expired' : 'invite.open_link_again' }),
  };
}

/** Mounts the invitation's pages (see {@link invitationFlow}). */
export function invitationPages(router: Router, services: Services, provider: Provider, accountGuard: AccountGuard): void {
  router.use(['/delegates/accept', '/delegates/register'], async (ctx, next) => {
    ctx.state.accountGuard = accountGuard;
    await next();
  });
  mountFlow(router, services, provider, invitationFlow(services.config));
}
