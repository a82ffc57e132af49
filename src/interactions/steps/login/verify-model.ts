import { findAccountById } from '../../../db/repositories/accounts.ts';
import { loadProfile, TYPINGS } from '../../../mfa/keystroke.ts';
import type { Fields } from '../../../steps/step.ts';
import type { InteractionContext } from '../../context.ts';
import { factorsFor, wantsFreshFactor } from './account.ts';

/** Values of the typing-pattern form (sentence, how many typings, "remember" days). */
export function typingValues(c: InteractionContext): Fields {
  const { config } = c.services;
  return { sentence: config.KEYSTROKE_SENTENCE, typings: TYPINGS, rememberDays: Math.round(config.DEVICE_TTL_SECONDS / 86400) };
}

/** The page of "Verify your Account" for the pending state (guide slides 8-11): the factor list, or the chosen factor. */
export async function verifyModel(c: InteractionContext): Promise<Fields> {
  const pending = c.state!;
  const account = await findAccountById(c.services.db, pending.accountId);
  if (!account) return { unusable: true, factors: [], factor: null };
  const factors = await factorsFor(c, account);
  const factor = pending.factor ? c.services.factors.get(pending.factor) : undefined;
  return {
    unusable: false,
    stage: pending.stage,
    factors: factors.map((f) => ({ id: f.id, label: f.label, description: f.describe(account), kind: f.kind })),
    factor: factor ? { id: factor.id, label: factor.label, kind: factor.kind, description: factor.describe(account) } : null,
    stepUp: wantsFreshFactor(c.details, c.services),
    // Where a mobile number comes from: the producer record, or a delegate's own (My Account).
    delegate: account.kind === 'delegate',
    ...typingValues(c),
  };
}

/** The typing page's values: whether a pattern is enrolled already (refresh) or not (enrollment). */
export async function typingModel(c: InteractionContext): Promise<Fields> {
  const enrolled = !!(await loadProfile(c.services.db, c.state!.accountId, c.services.config.KEYSTROKE_SENTENCE));
  return { ...typingValues(c), enrolled };
}
