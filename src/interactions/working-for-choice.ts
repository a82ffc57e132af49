import type { Kysely } from 'kysely';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { isActive, type Account } from '../db/repositories/accounts.ts';
import { actingOptions, principalsOfGrants, type ActingOption } from '../db/repositories/delegations.ts';
import type { Database } from '../db/schema.ts';
import { normalizeProducerNumber } from '../producers/records.ts';
import { oncePerRequest } from '../request-memo.ts';

/**
 * The authorization parameter (registered with oidc-provider's `extraParams`) by which a client
 * names the producer the person works for: a 9-digit producer number, the person's own (a producer
 * signing in as themselves) or one of a producer who made them a delegate (issue 14 item 3). When
 * it names no producer the person may act for, the "Choose who you are working for" page is shown.
 */
export const PRODUCER_NUMBER_PARAM = 'producer_number';

/** What the "Choose who you are working for" prompt leaves in the interaction result. */
export const WORKING_FOR_RESULT = 'working_for';

/** Whom a sign-in acts for: a delegation, or (null) the person themselves as producer. */
export interface Principal {
  delegationId: string | null;
}

/** Who a person may work for: themselves (a producer's account whose record is active) and their usable delegations. */
export interface Choices {
  self: { producerNumber: string; name: string } | null;
  delegations: ActingOption[];
}

/** The choices of an account ({@link Choices}). */
export async function choicesOf(db: Kysely<Database>, account: Account): Promise<Choices> {
  const self = account.kind === 'producer' && account.producerNumber && isActive(account)
    ? { producerNumber: account.producerNumber, name: `${account.producer.firstName} ${account.producer.lastName}` }
    : null;
  return { self, delegations: await actingOptions(db, account.id) };
}

/**
 * {@link choicesOf}, read once per request (issue 12): the policy's check and the grant loader of
 * one authorization request share the read, keyed by the request's context `ctx`.
 */
export function choicesOfRequest(db: Kysely<Database>, ctx: object, account: Account): Promise<Choices> {
  return oncePerRequest(ctx, `choices:${account.id}`, () => choicesOf(db, account));
}

/** How many choices there are. */
export function choiceCount(c: Choices): number {
  return (c.self ? 1 : 0) + c.delegations.length;
}

/** The `producer_number` the client named (a non-empty string), or undefined when it named none. */
function askedProducer(ctx: KoaContextWithOIDC): string | undefined {
  const asked = ctx.oidc.params?.[PRODUCER_NUMBER_PARAM];
  if (typeof asked !== 'string' || asked.length === 0) return undefined;
  // Written as registration reads it: shorter numbers are padded with zeros to 9 digits (guide slide 3).
  return normalizeProducerNumber(asked.slice(0, 40)) ?? asked;
}

/**
 * Whom the authorization request being served acts for, when it is settled: the choice made on the
 * "Choose who you are working for" page (interaction result), else the `producer_number` parameter
 * when it names one of the choices, else — when the client named no producer — the only choice.
 * undefined: the person must choose (or has no choice at all). A `producer_number` that names none
 * of the choices settles nothing, even with a single choice: the page is shown (never another
 * producer in silence).
 */
export function settledPrincipal(ctx: KoaContextWithOIDC, choices: Choices): Principal | undefined {
  const chosen = (ctx.oidc.result as Record<string, unknown> | undefined)?.[WORKING_FOR_RESULT] as Principal | undefined;
  if (chosen) return isChoice(choices, chosen) ? chosen : undefined;
  const asked = askedProducer(ctx);
  if (asked !== undefined) {
    if (choices.self?.producerNumber === asked) return { delegationId: null };
    const d = choices.delegations.find((o) => o.producerNumber === asked);
    return d ? { delegationId: d.delegationId } : undefined;
  }
  if (choiceCount(choices) === 1) return { delegationId: choices.self ? null : choices.delegations[0]!.delegationId };
  return undefined;
}

/** Whether `p` is one of `choices`. */
function isChoice(choices: Choices, p: Principal): boolean {
  return p.delegationId === null ? !!choices.self : choices.delegations.some((o) => o.delegationId === p.delegationId);
}

/**
 * {@link settledPrincipal}, else the choice made in this IdP session — when every grant of the
 * session (at any client) acts for the same principal and it is still one of `choices`: a person
 * who chose whom to work for at the portal is not asked again when single sign-on takes them to
 * another application of the same session (issue 14 item 3). When the session's applications act
 * for different producers (a client named another with `producer_number`), the page asks: no
 * application silently takes over another's producer. A `producer_number` naming none of the
 * choices never falls back on the session's choice (the page is shown). Read once per request.
 */
export async function resolvePrincipal(db: Kysely<Database>, ctx: KoaContextWithOIDC, choices: Choices): Promise<Principal | undefined> {
  const settled = settledPrincipal(ctx, choices);
  if (settled || choiceCount(choices) < 2 || askedProducer(ctx) !== undefined) return settled;
  const only = await oncePerRequest(ctx, 'session-principal', async () => {
    const authorizations = (ctx.oidc.session?.authorizations ?? {}) as Record<string, { grantId?: string }>;
    const grantIds = Object.entries(authorizations).filter(([clientId]) => clientId !== OWN_PAGES_CLIENT_ID).map(([, a]) => a.grantId).filter((g): g is string => typeof g === 'string');
    const all = await principalsOfGrants(db, grantIds);
    return all.length === 1 ? all[0] : undefined;
  });
  return only && isChoice(choices, only) ? only : undefined;
}

/**
 * The IdP's own first-party client of its account pages (`ACCOUNT_CLIENT_ID` of
 * src/oidc/provider.ts, `idp-account`): signing in there is for the person themselves, so it never
 * asks whom they work for, and its grants act for no producer.
 */
export const OWN_PAGES_CLIENT_ID = 'idp-account';
