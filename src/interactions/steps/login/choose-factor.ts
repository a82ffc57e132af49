import { audit } from '../../../audit.ts';
import type { Account } from '../../../db/repositories/accounts.ts';
import type { Factor, FactorContext } from '../../../mfa/factor.ts';
import { field, type Fields, type StepResult } from '../../../steps/step.ts';
import type { InteractionContext, InteractionState, InteractionStep } from '../../context.ts';
import type { PendingLogin } from '../../pending.ts';
import { factorsFor, pendingAccount } from './account.ts';
import { verifyModel } from './verify-model.ts';

/** Starts `factor` (sends a code, or shows the typing page); a failed start leaves the person where they were. */
async function startFactor(c: InteractionContext, account: Account, pending: PendingLogin, factor: Factor, current: Factor | undefined, fc: FactorContext): Promise<StepResult<InteractionState>> {
  const { db, clock } = c.services;
  if (current && current.id !== factor.id) await current.cancel(fc);
  const started = await factor.start(fc);
  if (!started.ok) {
    const smsFailed = started.error === 'mfa.sms_failed';
    await audit(db, clock, factor.id === 'sms' && smsFailed ? 'mfa.send_failed' : 'mfa.failed', account.id, c.info, { factor: factor.id, reason: started.error });
    // A failed text: back to the choice.
    const stage = smsFailed ? 'choose' : pending.stage;
    return { kind: 'retry', status: smsFailed ? 502 : 429, formError: started.error, formErrorParams: started.errorParams ?? {}, state: { ...pending, stage, factor: stage === 'choose' ? undefined : pending.factor } };
  }
  await audit(db, clock, 'mfa.sent', account.id, c.info, { factor: factor.id });
  return { kind: 'next', state: { ...pending, stage: 'verify', factor: factor.id, notice: { code: started.notice, params: started.noticeParams } } };
}

/**
 * The buttons of "Verify your Account" that work on both of its screens (the choice and the code):
 * `choose` (Send Code / Next), `resend`, `switch` (choose another way) and `cancel` (sign in as
 * someone else). Anything else: the choice again (422 "choose a way").
 */
export async function factorAction(c: InteractionContext, body: Fields): Promise<StepResult<InteractionState>> {
  const pending = c.state!;
  const found = await pendingAccount(c, pending);
  if ('refused' in found) return found.refused;
  const { account } = found;
  const fc: FactorContext = { services: c.services, ctx: c.ctx, account, interactionUid: c.details.uid };
  const action = field(body, 'action');
  const available = await factorsFor(c, account);
  const current = pending.factor ? available.find((f) => f.id === pending.factor) : undefined;

  if (action === 'cancel' || action === 'switch') {
    if (current) await current.cancel(fc);
    return { kind: 'next', state: action === 'cancel' ? undefined : { ...pending, stage: 'choose', factor: undefined } };
  }
  if (action === 'choose' || (action === 'resend' && current)) {
    const factor = action === 'resend' ? current : available.find((f) => f.id === field(body, 'factor'));
    if (!factor) return { kind: 'retry', status: 422, formError: 'mfa.factor_unavailable' };
    return startFactor(c, account, pending, factor, current, fc);
  }
  return { kind: 'retry', status: 422, formError: 'mfa.choose' };
}

/** "Verify your Account" (guide slide 8): the list of the account's factors, "Send Code" or "Next". */
export const chooseFactorStep: InteractionStep = {
  name: 'choose',
  view: 'idp/verify-account',
  model: verifyModel,
  submit: factorAction,
};
