import type { Context } from 'koa';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/index.ts';
import type { Account } from '../db/repositories/accounts.ts';
import type { Database } from '../db/schema.ts';
import type { Sample } from '../keystroke/index.ts';
import type { Branding, Mailer } from '../notify/mail.ts';
import type { SmsSender } from '../notify/sms.ts';

/**
 * What second factors and remembered devices use of the application's services (services.ts's
 * `Services` has all of it). Declared here so that mfa/ does not import services.ts, which holds
 * the factor registry (no type cycle).
 */
export interface MfaDeps {
  config: Config;
  db: Kysely<Database>;
  clock: Clock;
  mailer: Mailer;
  sms: SmsSender;
  logger: Logger;
  branding: Branding;
  /** Runs a side effect after the response (services.ts). */
  later(what: string, fn: () => Promise<unknown>): void;
}

/** Factor ids, in the order the guide lists them (slide 8). */
export type FactorId = 'email' | 'sms' | 'keystroke';

/** What a factor sees when it starts or verifies. */
export interface FactorContext {
  services: MfaDeps;
  ctx: Context;
  account: Account;
  /** The interaction uid: codes are bound to it, so a code of another sign-in is useless here. */
  interactionUid: string;
}

/** Outcome of starting a factor (sending a code, or showing the typing page). */
export type FactorStart =
  | { ok: true; notice: string; noticeParams: Record<string, string | number> }
  | { ok: false; error: string; errorParams?: Record<string, string | number> };

/** Outcome of a verification. `countsAsFailure` is false for input that was never compared (a malformed code). */
export type FactorVerify =
  | { ok: true; samples?: Sample[] }
  | {
      ok: false;
      error: string;
      errorParams?: Record<string, string | number>;
      countsAsFailure: boolean;
      /** Back to the choice of factors. */
      restart?: boolean;
      endInteraction?: boolean;
      /** Typing samples presented (kept for template adaptation if the sign-in completes). */
      samples?: Sample[];
    };

/**
 * One second factor of "Verify your Account" (guide slides 8-11). The step knows only this
 * interface and the registry built from configuration.
 */
export interface Factor {
  readonly id: FactorId;
  /** RFC 8176 Authentication Method Reference value added to `amr` when it passes. */
  readonly amr: string;
  /** `code`: "Send Code" then a code field; `pattern`: "Next" then the typing page. */
  readonly kind: 'code' | 'pattern';
  /** Label of the choice on the page (guide: "Verify Account by Email" …). */
  readonly label: string;
  /** Whether it reaches the fresh-second-factor acr level (keyboard pattern does not by default). */
  readonly strong: boolean;
  /** Whether the account can use it (e.g. SMS needs a mobile number on the producer record). */
  available(account: Account, services: MfaDeps): Promise<boolean>;
  /** The choice's sentence with the masked destination (guide: "…to xxxname@email.com"). */
  describe(account: Account): string;
  start(fc: FactorContext): Promise<FactorStart>;
  verify(fc: FactorContext, body: Record<string, unknown>): Promise<FactorVerify>;
  /** Drops whatever is pending (a sent code) when the person switches factor. */
  cancel(fc: FactorContext): Promise<void>;
}

/** The factors configured (MFA_FACTORS), by id, in configuration order. */
export class FactorRegistry {
  readonly #factors: Factor[];
  constructor(factors: Factor[]) {
    this.#factors = factors;
  }
  get(id: unknown): Factor | undefined {
    return this.#factors.find((f) => f.id === id);
  }
  /** The factors this account can use, in order. */
  async availableFor(account: Account, services: MfaDeps): Promise<Factor[]> {
    const out: Factor[] = [];
    for (const f of this.#factors) if (await f.available(account, services)) out.push(f);
    return out;
  }
}
