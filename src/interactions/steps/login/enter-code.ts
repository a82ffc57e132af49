import { audit } from '../../../audit.ts';
import type { Account } from '../../../db/repositories/accounts.ts';
import type { Factor, FactorContext } from '../../../mfa/factor.ts';
import { rememberDevice } from '../../../mfa/trusted-devices.ts';
import { beginAttempt, failAttempt, refundAttempt } from '../../../security/lockout.ts';
import { isWellFormedCode, normalizeCodeEntry } from '../../../security/one-time-codes.ts';
import { field, type Fields, type StepResult } from '../../../steps/step.ts';
import type { InteractionContext, InteractionState, InteractionStep } from '../../context.ts';
import type { PendingLogin } from '../../pending.ts';
import { factorsFor, finishLogin, pendingAccount, sendLockMail } from './account.ts';
import { factorAction } from './choose-factor.ts';
import { verifyModel } from './verify-model.ts';

/** Wrong second factors that end an interaction (issue: "5 wrong second factors end the interaction"). */
export const MAX_FACTOR_FAILURES = 5;

/** A wrong code or pattern: counted (lockout and this interaction's failures); the 5th, or a lock, ends the interaction. */
async function wrongFactor(c: InteractionContext, account: Account, pending: PendingLogin, factor: Factor, fc: FactorContext, attempt: number, result: { error: string; errorParams?: Fields; endInteraction?: boolean; restart?: boolean }, typings: PendingLogin['typings']): Promise<StepResult<InteractionState>> {
  const { services, info } = c;
  const { db, clock, config } = services;
  const now = clock.now();
  const failures = pending.failures + 1;
  const lockedNow = await failAttempt(db, account.id, attempt, now, { threshold: config.LOCKOUT_THRESHOLD, lockSeconds: config.LOCKOUT_SECONDS });
  await audit(db, clock, 'mfa.failed', account.id, info, { factor: factor.id, failures });
  if (lockedNow) {
    await audit(db, clock, 'login.locked', account.id, info, { lockSeconds: config.LOCKOUT_SECONDS, by: 'second_factor' });
    services.later('account-locked mail', () => sendLockMail(services, account));
  }
  if (result.endInteraction || failures >= MAX_FACTOR_FAILURES || lockedNow) {
    await audit(db, clock, 'mfa.exhausted', account.id, info, { factor: factor.id });
    await factor.cancel(fc);
    await c.details.destroy();
    return { kind: 'finish', page: { status: 403, view: 'idp/error', data: { title: 'Verify your Account', message: 'mfa.code_exhausted', extraMessage: lockedNow ? 'login.locked' : null, error: null, description: null, portalUrl: config.PORTAL_URL } } };
  }
  const state: PendingLogin = result.restart ? { ...pending, failures, typings, stage: 'choose', factor: undefined } : { ...pending, failures, typings };
  return { kind: 'retry', status: 401, formError: result.error, formErrorParams: result.errorParams ?? {}, state };
}

/**
 * "Verify your Account" after a code was sent, or the keyboard-pattern page (guide slides 9-11),
 * saying on arrival what the factor did ("we sent a code to …"); `verify` checks the code (or the typing) with the factor. Each try counts toward the account's
 * lockout before the comparison; a right one finishes `login` with amr `pwd` + the factor's amr
 * (+ `mfa` for a strong factor) and "Remember this device" when ticked. The other buttons of the
 * page are {@link factorAction}'s.
 */
export const enterCodeStep: InteractionStep = {
  name: 'verify',
  view: 'idp/verify-account',
  model: verifyModel,
  greeting: (c) => (c.state?.notice ? { notice: c.state.notice.code, noticeParams: c.state.notice.params } : {}),
  async submit(c, body) {
    if (field(body, 'action') !== 'verify') return factorAction(c, body);
    const pending = c.state!;
    const found = await pendingAccount(c, pending);
    if ('refused' in found) return found.refused;
    const { account } = found;
    const { services, ctx, info } = c;
    const { db, clock, config } = services;
    const current = pending.factor ? (await factorsFor(c, account)).find((f) => f.id === pending.factor) : undefined;
    if (!current) return { kind: 'retry', status: 422, formError: 'mfa.choose' };
    const code = field(body, 'code') ?? '';
    if (current.kind === 'code' && (code.length > 64 || !isWellFormedCode(normalizeCodeEntry(code)))) return { kind: 'retry', status: 422, formError: 'mfa.code_format' };
    const attempt = await beginAttempt(db, account.id, clock.now(), { threshold: config.LOCKOUT_THRESHOLD, lockSeconds: config.LOCKOUT_SECONDS });
    if (!attempt.allowed) return { kind: 'retry', status: 403, data: { unusable: true } };
    const fc: FactorContext = { services, ctx, account, interactionUid: c.details.uid };
    const result = await current.verify(fc, body);
    const typings = [...(pending.typings ?? []), ...(result.samples ?? [])];
    if (result.ok) {
      await audit(db, clock, 'mfa.passed', account.id, info, { factor: current.id });
      if (field(body, 'remember') === 'yes') await rememberDevice(services, ctx, account, current.id, info);
      // RFC 8176: `mfa` only when the second factor is a strong one (a keyboard pattern is not, by default).
      const amr = current.strong ? ['pwd', current.amr, 'mfa'] : ['pwd', current.amr];
      return finishLogin(c, account, { ...pending, typings }, amr, current.strong ? config.ACR_MFA : config.ACR_REMEMBERED_DEVICE, current.kind === 'code' ? 'code' : 'keystroke');
    }
    if (!result.countsAsFailure) {
      await refundAttempt(db, account.id);
      return { kind: 'retry', status: 422, formError: result.error, formErrorParams: result.errorParams ?? {}, state: result.restart ? { ...pending, stage: 'choose', factor: undefined } : undefined };
    }
    return wrongFactor(c, account, pending, current, fc, attempt.attempt, result, typings);
  },
};
