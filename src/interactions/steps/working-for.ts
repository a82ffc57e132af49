import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { z } from 'zod';
import { audit } from '../../audit.ts';
import { findAccountById } from '../../db/repositories/accounts.ts';
import { AppError } from '../../http/errors.ts';
import { choiceCount, choicesOf, choicesOfRequest, OWN_PAGES_CLIENT_ID, PRODUCER_NUMBER_PARAM, resolvePrincipal, WORKING_FOR_RESULT, type Choices } from '../working-for-choice.ts';
import { optionalText } from '../../steps/fields.ts';
import type { InteractionContext, InteractionStep, PromptSteps } from '../context.ts';

const { Check } = interactionPolicy;

const input = z.object({ working_for: optionalText, decision: optionalText });

/** The radio options of the page: `self` or a delegation id, with what the person reads. */
function optionsOf(choices: Choices): { value: string; label: string; detail: string }[] {
  return [
    ...(choices.self ? [{ value: 'self', label: `Myself — ${choices.self.name}`, detail: `Producer number ${choices.self.producerNumber}` }] : []),
    ...choices.delegations.map((d) => ({ value: d.delegationId, label: d.producerName, detail: `Producer number ${d.producerNumber} · as a delegate` })),
  ];
}

async function choicesFor(c: InteractionContext): Promise<{ accountId: string; choices: Choices }> {
  const accountId = c.details.session?.accountId;
  const account = accountId ? await findAccountById(c.services.db, accountId) : undefined;
  if (!account) throw new AppError('interaction.expired', 400);
  return { accountId: account.id, choices: await choicesOf(c.services.db, account) };
}

/**
 * "Choose who you are working for" (issue 14 item 3): after Verify your Account, when the person may
 * act for more than one producer (themselves as producer and delegations, or several producers) and
 * neither an earlier choice nor the `producer_number` parameter settled it; also, with any number
 * of choices, when `producer_number` names none of them (the page says so). The choice becomes the
 * interaction result `working_for` (`{ delegationId }`, null for themselves), which
 * `loadExistingGrant` (src/oidc/provider.ts) records for the grant. A delegate with no producer to
 * work for sees why and may cancel (`access_denied`); the page always offers **Log out** (the
 * IdP's end-session page, `/session/end`), so a person stuck here can sign in as someone else.
 */
export const workingForStep: InteractionStep<z.infer<typeof input>> = {
  name: 'working_for',
  view: 'idp/working-for',
  input,
  async model(c) {
    const { choices } = await choicesFor(c);
    // The client named a producer the person may not work for: say so (the page never picks another in silence).
    const asked = (c.details.params as Record<string, unknown> | undefined)?.[PRODUCER_NUMBER_PARAM];
    const named = typeof asked === 'string' && asked.length > 0 && choices.self?.producerNumber !== asked && !choices.delegations.some((d) => d.producerNumber === asked);
    return {
      title: 'Choose who you are working for',
      options: optionsOf(choices),
      ...(named ? { notice: 'working_for.unknown_producer', noticeParams: { producer: asked.slice(0, 20) } } : {}),
    };
  },
  async submit(c, { working_for: value, decision }) {
    const { services, info } = c;
    const { accountId, choices } = await choicesFor(c);
    if (decision === 'cancel') return { kind: 'finish', result: { error: 'access_denied', error_description: 'End-User did not choose whom to work for' } };
    const option = optionsOf(choices).find((o) => o.value === value);
    if (!option) return { kind: 'retry', status: 422, formError: 'working_for.choose' };
    const delegation = value === 'self' ? null : choices.delegations.find((d) => d.delegationId === value)!;
    const details = delegation ? { producerNumber: delegation.producerNumber, delegationId: delegation.delegationId } : { producerNumber: choices.self!.producerNumber, self: true };
    await audit(services.db, services.clock, 'delegate.working_for', accountId, info, details);
    if (delegation) await audit(services.db, services.clock, 'delegate.working_for', delegation.producerAccountId, info, { ...details, delegateAccountId: accountId });
    return { kind: 'finish', result: { [WORKING_FOR_RESULT]: { delegationId: delegation?.delegationId ?? null } } };
  },
};

/** The `working_for` prompt (after `terms`): requested while whom the person works for is not settled. */
export const workingForPrompt: PromptSteps = {
  name: 'working_for',
  stepFor: () => workingForStep,
  checks(services, sessionAccount) {
    return [
      new Check('working_for_unsettled', 'whom the End-User works for is not settled', 'interaction_required', async (ctx: KoaContextWithOIDC) => {
        const accountId = ctx.oidc.session?.accountId;
        if (!accountId || ctx.oidc.client?.clientId === OWN_PAGES_CLIENT_ID) return Check.NO_NEED_TO_PROMPT;
        const account = await sessionAccount(ctx, accountId);
        if (!account) return Check.NO_NEED_TO_PROMPT;
        const choices = await choicesOfRequest(services.db, ctx, account);
        // A producer with no delegation and no usable record is refused by `login` itself.
        if (choiceCount(choices) === 0 && account.kind === 'producer') return Check.NO_NEED_TO_PROMPT;
        return (await resolvePrincipal(services.db, ctx, choices)) ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
      }),
    ];
  },
};
