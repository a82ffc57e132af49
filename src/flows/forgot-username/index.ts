import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Services } from '../../services.ts';
import { mountFlow, type FlowDefinition } from '../flow.ts';
import { recoveryRestartPage } from '../recovery/limits.ts';
import { requestStep } from './request.ts';
import { sentStep } from './sent.ts';
import type { UsernameState } from './state.ts';

/**
 * Forgot Username (guide slides 12-13):
 * - GET|POST /forgot-username     "Email address" → "Send Email" (request.ts)
 * - GET  /forgot-username/sent    "an email has been sent…"; POST /forgot-username/resend (sent.ts)
 * A step taken out of order answers 303 to the step the flow is at; no flow: the form again with
 * "start over" (409; 410 "this page expired" when the flow expired).
 */
export function forgotUsernameFlow(config: Services['config']): FlowDefinition<UsernameState> {
  const ttl = config.RECOVERY_FLOW_TTL_SECONDS;
  return {
    kind: 'forgot-username',
    ttlSeconds: ttl,
    steps: [requestStep, sentStep],
    restartPage: recoveryRestartPage(ttl),
  };
}

/** Mounts Forgot Username (see {@link forgotUsernameFlow}). */
export function forgotUsernameRoutes(router: Router, services: Services, provider: Provider) {
  return mountFlow(router, services, provider, forgotUsernameFlow(services.config));
}
