import { isReplayed, loadProfile, readSamples } from '../../../mfa/keystroke.ts';
import { field } from '../../../steps/step.ts';
import type { InteractionStep } from '../../context.ts';
import { afterPassword, pendingAccount } from './account.ts';
import { typingModel } from './verify-model.ts';

/**
 * The typing-pattern page after the password (guide slide 8: enrollment, or a refresh of the
 * pattern): the sentence typed several times (timings only), or "skip". The typings are kept in
 * the pending sign-in and saved to the pattern when the sign-in completes. Then as after the
 * password: a remembered device, or the factor choice.
 */
export const typingPatternStep: InteractionStep = {
  name: 'typing',
  view: 'idp/typing-pattern',
  model: typingModel,
  async submit(c, body) {
    const pending = c.state!;
    const found = await pendingAccount(c, pending);
    if ('refused' in found) return found.refused;
    const { account } = found;
    const { db, config } = c.services;
    const action = field(body, 'action');
    if (action === 'skip_typing') return afterPassword(c, account, pending);
    if (action !== 'typing') return { kind: 'retry', status: 422, formError: 'mfa.keystroke_retype' };
    const read = readSamples(body, config.KEYSTROKE_SENTENCE);
    if (!read.ok) return { kind: 'retry', status: 422, formError: read.reason === 'needs_js' ? 'mfa.keystroke_needs_js' : 'mfa.keystroke_retype' };
    const template = await loadProfile(db, account.id, config.KEYSTROKE_SENTENCE);
    if (await isReplayed(db, account.id, template, read.samples)) return { kind: 'retry', status: 422, formError: 'mfa.keystroke_replay' };
    return afterPassword(c, account, { ...pending, typings: read.samples, rememberTyping: field(body, 'remember') === 'yes' });
  },
};
