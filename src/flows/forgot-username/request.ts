import { z } from 'zod';
import { textField } from '../../steps/fields.ts';
import { field } from '../../steps/step.ts';
import { interactionField } from '../login-link.ts';
import { requestUsernameMail } from '../recovery/forgot-username.ts';
import { isEmailAddress, MAX_EMAIL_LENGTH } from '../recovery/input.ts';
import { RECOVERY_IP_LIMIT, sendRefused } from '../recovery/limits.ts';
import type { UsernameStep } from './state.ts';

const invalid = 'recovery.email_invalid';
const input = z.object({
  email: textField(MAX_EMAIL_LENGTH, { 'form.required': invalid, 'form.too_long': invalid, 'form.invalid_characters': invalid, check: invalid }, isEmailAddress),
  interaction: interactionField,
});

/**
 * Forgot Username, "Email address" → "Send Email" (guide slide 12). The same answer whether or not
 * an account uses the address (requestUsernameMail does the same work either way); 303 to "sent".
 */
export const requestStep: UsernameStep<z.infer<typeof input>> = {
  name: 'request',
  path: '/forgot-username',
  view: 'idp/forgot-username',
  at: 'start',
  input,
  rateLimit: RECOVERY_IP_LIMIT,
  echo: (body) => ({ email: (field(body, 'email') ?? '').slice(0, MAX_EMAIL_LENGTH) }),
  async model(c) {
    return { title: 'Forgot Username', uid: c.interactionUid() ?? '', loginUrl: await c.loginUrl() };
  },
  async submit(c, { email, interaction }) {
    const result = await requestUsernameMail(c.services, email, c.info);
    if (!result.accepted) return sendRefused(result, { values: { email } });
    return { kind: 'next', state: { step: 'sent', interactionUid: interaction, email } };
  },
};
