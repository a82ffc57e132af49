import { z } from 'zod';
import { audit } from '../../audit.ts';
import { textField } from '../../steps/fields.ts';
import { field } from '../../steps/step.ts';
import { interactionField } from '../login-link.ts';
import { findResetTarget } from '../recovery/forgot-password.ts';
import { RECOVERY_IP_LIMIT } from '../recovery/limits.ts';
import type { ResetStep } from './state.ts';

/** Longest username accepted on "Find Account" (usernames have at most 40 characters; longer is simply unknown). */
const MAX_USERNAME = 100;

const input = z.object({
  username: textField(MAX_USERNAME, { 'form.required': 'username.required' }),
  interaction: interactionField,
});

/**
 * Step 1 of 4, "Username" → "Find Account" (guide slide 14). A username without an active account
 * continues exactly like one with (placeholder destinations, see recovery/forgot-password.ts).
 */
export const findAccountStep: ResetStep<z.infer<typeof input>> = {
  name: 'find',
  path: '/forgot-password',
  view: 'idp/forgot-password',
  at: 'start',
  input,
  rateLimit: RECOVERY_IP_LIMIT,
  echo: (body) => ({ username: (field(body, 'username') ?? '').slice(0, 40) }),
  async model(c) {
    return { title: 'Forgot Password', uid: c.interactionUid() ?? '', loginUrl: await c.loginUrl() };
  },
  async submit(c, { username, interaction }) {
    const target = await findResetTarget(c.services, username);
    await audit(c.services.db, c.services.clock, 'recovery.password_reset_started', target.accountId, c.info);
    return { kind: 'next', state: { step: 'choose', interactionUid: interaction, ...target } };
  },
};
