import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Services } from '../../services.ts';
import { mountFlow, type FlowDefinition } from '../flow.ts';
import { recoveryRestartPage } from '../recovery/limits.ts';
import { chooseChannelStep } from './choose-channel.ts';
import { doneStep } from './done.ts';
import { enterCodeStep } from './enter-code.ts';
import { findAccountStep } from './find-account.ts';
import { newPasswordStep } from './new-password.ts';
import type { ResetState } from './state.ts';

/**
 * Forgot Password (guide slides 14-17):
 * - GET|POST /forgot-password               Step 1 of 4: "Username" → "Find Account" (find-account.ts)
 * - GET|POST /forgot-password/verify        Step 2 of 4: email or text → "Send Code" (choose-channel.ts)
 * - GET|POST /forgot-password/code          Step 3 of 4: the code → "Continue"; POST …/code/resend (enter-code.ts)
 * - GET|POST /forgot-password/new-password  Step 4 of 4: "Create New Password" (new-password.ts)
 * - GET  /forgot-password/done             "Your password was changed" when no sign-in is waiting (done.ts)
 * A step taken out of order answers 303 to the step the flow is at (the flow is unchanged: going
 * back after a code was sent neither sends another nor changes its channel); no flow: step 1 with
 * "start again" (409; 410 when the flow expired). A username without an account gets the same
 * pages, statuses, cookies and work as one with an account.
 */
export function forgotPasswordFlow(config: Services['config']): FlowDefinition<ResetState> {
  const ttl = config.RECOVERY_FLOW_TTL_SECONDS;
  return {
    kind: 'forgot-password',
    ttlSeconds: ttl,
    steps: [findAccountStep, chooseChannelStep, enterCodeStep, newPasswordStep, doneStep],
    restartPage: recoveryRestartPage(ttl),
  };
}

/** Mounts Forgot Password (see {@link forgotPasswordFlow}). */
export function forgotPasswordRoutes(router: Router, services: Services, provider: Provider) {
  return mountFlow(router, services, provider, forgotPasswordFlow(services.config));
}
