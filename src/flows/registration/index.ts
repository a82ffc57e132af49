import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Services } from '../../services.ts';
import { mountFlow, type FlowDefinition } from '../flow.ts';
import { createLoginStep } from './create-login.ts';
import { producerStep } from './producer.ts';
import type { RegistrationState } from './state.ts';
import { termsStep } from './terms.ts';
import { verifyEmailStep } from './verify-email.ts';

export { REGISTER_IP_LIMIT } from './state.ts';

/**
 * Registration ("New User? Register Here", guide slides 3-5), in the order of its screens:
 * - GET  /register, POST /register/terms   Terms of Use, Accept / Reject (terms.ts)
 * - GET|POST /register/producer            Step 1 of 3, Enter Producer Information (producer.ts)
 * - GET|POST /register/login               Step 2 of 3, Create Your Secure Login (create-login.ts)
 * - GET  /register/verify-email            Step 3 of 3, Verify Your Email; POST …/resend (verify-email.ts)
 * A step taken out of order answers 303 to the current one; no flow: 409 (410 when it expired).
 */
export function registrationFlow(config: Services['config']): FlowDefinition<RegistrationState> {
  return {
    kind: 'register',
    ttlSeconds: config.REGISTRATION_FLOW_TTL_SECONDS,
    steps: [termsStep, producerStep, createLoginStep, verifyEmailStep],
    restartPage: (_c, { expired, formError }) => ({
      status: 409,
      view: 'idp/register-restart',
      data: { title: 'Registration', message: expired ? 'register.flow_expired' : formError ?? null },
    }),
  };
}

/** Mounts registration's screens (see {@link registrationFlow}). */
export function registrationRoutes(router: Router, services: Services, provider: Provider) {
  return mountFlow(router, services, provider, registrationFlow(services.config));
}
