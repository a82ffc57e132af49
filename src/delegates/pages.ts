import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import type { Account } from '../db/repositories/accounts.ts';
import { delegationsOfProducer, PERMISSIONS, type Permission } from '../db/repositories/delegations.ts';
import { delegationsWithLiveLink } from '../db/repositories/single-use-links.ts';
import { mountFlow, type FlowDefinition, type FlowState, type FlowStep } from '../flows/flow.ts';
import { render } from '../http/render.ts';
import { verifyCsrf } from '../security/csrf.ts';
import type { Services } from '../services.ts';
import { textField } from '../steps/fields.ts';
import { bodyOf, field, requestInfo } from '../steps/step.ts';
import { EMAIL, inviteDelegate, PERMISSION_LABELS, removeDelegate, resendInvitation } from './service.ts';
import type { AccountGuard } from '../account/session.ts';

/** Rate-limit name of Add Delegate per client address (defined in app.ts with RATE_LIMIT_REGISTER_POINTS). */
export const DELEGATE_INVITE_IP_LIMIT = 'delegate_invite_ip';

/** Notices the list shows after an action (`?done=`), a fixed list. */
const DONE = { added: 'delegates.added', resent: 'delegates.resent_short', removed: 'delegates.removed_short', limited: 'delegates.resend_limited_short' } as const;

/** The signed-in producer of this request (set by {@link requireProducer}). */
function producerOf(ctx: Context): Account {
  return ctx.state.delegatesProducer as Account;
}

/**
 * Guards the producer's delegate pages with the IdP session (the account pages' guard,
 * src/account/session.ts): an anonymous visitor is sent to sign in (303) and comes back; the
 * session's account must be a producer's (a delegate's account: 403 with a way to the portal).
 * Every change (any method but GET/HEAD: Add Delegate, Resend, Remove) needs a recent sign-in,
 * as My Account's changes do: older than ACCOUNT_REAUTH_SECONDS, 303 to sign in again
 * (`prompt=login`) and back to the page, nothing changed.
 */
function requireProducer(services: Services, guard: AccountGuard) {
  return async (ctx: Context, next: Next) => {
    const reading = ctx.method === 'GET' || ctx.method === 'HEAD';
    const page = ctx.path === '/delegates/add' ? '/delegates/add' : '/delegates';
    const session = await guard.require(ctx, reading ? ctx.originalUrl : page);
    if (!session) return;
    const { account } = session;
    if (account.kind !== 'producer' || !account.emailVerifiedAt) return render(ctx, 'idp/delegates-refused', { title: 'View/Add My Delegates', formError: 'delegates.not_producer', portalUrl: services.config.PORTAL_URL }, 403);
    if (!reading && !guard.requireRecentAuth(ctx, session, page)) return;
    ctx.state.delegatesProducer = account;
    return next();
  };
}

const fmt = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : '—');

/**
 * The list's rows: status, permissions, invited and last active dates (issue 14 item 1). An
 * invitation whose link expired (or was purged) reads "Invitation expired"; Resend sends a fresh one.
 */
async function listModel(services: Services, producer: Account) {
  const rows = await delegationsOfProducer(services.db, producer.producerNumber!);
  const live = await delegationsWithLiveLink(services.db, rows.filter((d) => d.status === 'invited').map((d) => d.id), services.clock.now());
  const invited = (id: string) => (live.has(id) ? 'Invited' : 'Invitation expired');
  return rows.map((d) => ({
    id: d.id,
    name: `${d.firstName} ${d.lastName}`,
    email: d.email,
    status: d.status === 'invited' ? invited(d.id) : d.status === 'active' ? (producer.producer.status === 'active' ? 'Active' : 'Inactive') : 'Removed',
    permissions: d.permissions.map((p) => PERMISSION_LABELS[p]),
    invited: fmt(d.invitedAt),
    lastActive: fmt(d.lastActiveAt),
    canResend: d.status === 'invited',
    canRemove: d.status !== 'removed',
  }));
}

const name = textField(100, { 'form.required': 'delegates.name.required' });
const addInput = z.object({
  first_name: name,
  last_name: name,
  email: textField(254, { 'form.required': 'delegates.email.format', check: 'delegates.email.format' }, (v) => EMAIL.safeParse(v).success),
  // The permissions of the list only: an unknown value is refused (422), never dropped in silence.
  permissions: z.any().transform((v, ctx) => {
    const given: unknown[] = v === undefined ? [] : Array.isArray(v) ? v : [v];
    const known = (p: unknown): p is Permission => typeof p === 'string' && (PERMISSIONS as readonly string[]).includes(p);
    if (!given.every(known)) {
      ctx.addIssue({ code: 'custom', message: 'delegates.permissions_unknown' });
      return z.NEVER;
    }
    if (given.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'delegates.permissions_required' });
      return z.NEVER;
    }
    return [...new Set(given as Permission[])];
  }),
});

type AddState = FlowState;

/**
 * Add Delegate (issue 14 item 1): First Name, Last Name, Email and permissions; Send Invitation
 * stores the invitation and mails its link, then the list shows it (303 GET-after-POST).
 */
const addStep: FlowStep<AddState, z.infer<typeof addInput>> = {
  name: 'add',
  path: '/delegates/add',
  view: 'idp/delegate-add',
  at: 'start',
  input: addInput,
  rateLimit: DELEGATE_INVITE_IP_LIMIT,
  echo: (body) => ({
    first_name: (field(body, 'first_name') ?? '').slice(0, 100),
    last_name: (field(body, 'last_name') ?? '').slice(0, 100),
    email: (field(body, 'email') ?? '').slice(0, 254),
    permissions: ([] as unknown[]).concat(body.permissions ?? []).filter((p) => typeof p === 'string'),
  }),
  async model(c) {
    return { title: 'Add Delegate', days: Math.round(c.services.config.DELEGATE_INVITATION_TTL_SECONDS / 86400), permissionChoices: PERMISSIONS.map((p) => ({ value: p, label: PERMISSION_LABELS[p] })) };
  },
  async submit(c, v) {
    const producer = producerOf(c.ctx);
    const out = await inviteDelegate(c.services, producer, { firstName: v.first_name, lastName: v.last_name, email: v.email, permissions: v.permissions }, c.info);
    if (!out.ok) {
      const code = out.reason === 'own_email' ? 'delegates.own_email' : 'delegates.already_invited';
      return { kind: 'retry', status: 409, errors: { email: [code] } };
    }
    return { kind: 'finish', redirect: '/delegates?done=added' };
  },
};

/** The Add Delegate "flow" (one screen; no state is ever stored). */
function addFlow(config: Services['config']): FlowDefinition<AddState> {
  return {
    kind: 'delegate-add',
    ttlSeconds: 600,
    steps: [addStep],
    restartPage: () => ({ status: 409, data: { title: 'Add Delegate', formError: 'interaction.expired', days: Math.round(config.DELEGATE_INVITATION_TTL_SECONDS / 86400) } }),
  };
}

/**
 * The producer's delegate pages at the IdP (issue 14 item 1), behind the IdP session:
 * - GET  /delegates                 the list: name, email, status (Invited, Invitation expired,
 *                                   Active, Inactive, Removed),
 *                                   permissions, invited and last active dates; Add Delegate
 * - GET|POST /delegates/add         Add Delegate (a step)
 * - POST /delegates/:id/resend      a new invitation link (the old one stops working)
 * - POST /delegates/:id/remove      removes the delegate (`confirm=yes`, else 422 with a message):
 *                                   their access for this producer ends at once
 * An id that is not one of this producer's delegations: 404 with the list and a message.
 * The invitation link's pages are in invitation.ts.
 */
export function delegatePages(router: Router, services: Services, provider: Provider, accountGuard: AccountGuard): void {
  const guard = requireProducer(services, accountGuard);
  router.use(['/delegates', '/delegates/add', '/delegates/:id/resend', '/delegates/:id/remove'], async (ctx, next) => {
    // /delegates/accept and /delegates/register… are the invitation's pages, open to anyone with the
    // link — but `/delegates/<id>/resend|remove` is always a producer's action, whatever the id says
    // (an id of "accept" or "register" is just an unknown delegation: 404, never the open pages).
    const action = /^\/delegates\/[^/]+\/(resend|remove)$/.test(ctx.path);
    if (!action && /^\/delegates\/(accept|register)(\/|$)/.test(ctx.path)) return next();
    return guard(ctx, next);
  });

  /** The list page, with a notice (`?done=`) or — for a refused action — a message and its status. */
  const showList = async (ctx: Context, status: number, message: { notice?: string | null; formError?: string }) => {
    const producer = producerOf(ctx);
    await render(ctx, 'idp/delegates', {
      title: 'View/Add My Delegates',
      producerName: `${producer.producer.firstName} ${producer.producer.lastName}`,
      delegates: await listModel(services, producer),
      notice: message.notice ?? null,
      noticeParams: { days: Math.round(services.config.DELEGATE_INVITATION_TTL_SECONDS / 86400) },
      ...(message.formError ? { formError: message.formError } : {}),
      portalUrl: services.config.PORTAL_URL,
    }, status);
  };

  router.get('/delegates', async (ctx) => {
    const done = typeof ctx.query.done === 'string' && ctx.query.done in DONE ? DONE[ctx.query.done as keyof typeof DONE] : null;
    await showList(ctx, 200, { notice: done });
  });

  mountFlow(router, services, provider, addFlow(services.config));

  // Refusals show the list again with the message: 404 for a delegation that is not one of this
  // producer's (unknown id, or another producer's), 409 when its state does not allow the action.
  router.post('/delegates/:id/resend', async (ctx) => {
    verifyCsrf(ctx);
    const out = await resendInvitation(services, producerOf(ctx), ctx.params.id!, requestInfo(ctx));
    if (out.ok || out.reason === 'limited') {
      ctx.status = 303;
      return ctx.redirect(`/delegates?done=${out.ok ? 'resent' : 'limited'}`);
    }
    if (out.reason === 'not_found') return showList(ctx, 404, { formError: 'delegates.not_found' });
    return showList(ctx, 409, { formError: 'delegates.not_invited' });
  });

  router.post('/delegates/:id/remove', async (ctx) => {
    verifyCsrf(ctx);
    if (field(bodyOf(ctx), 'confirm') !== 'yes') return showList(ctx, 422, { formError: 'delegates.remove_unconfirmed' });
    const out = await removeDelegate(services, producerOf(ctx), ctx.params.id!, requestInfo(ctx));
    if (out.ok) {
      ctx.status = 303;
      return ctx.redirect('/delegates?done=removed');
    }
    if (out.reason === 'already_removed') return showList(ctx, 409, { formError: 'delegates.already_removed' });
    return showList(ctx, 404, { formError: 'delegates.not_found' });
  });
}
