import { hash, verify } from '@node-rs/argon2';

/** @node-rs/argon2's `Algorithm.Argon2id` (an ambient const enum, which type stripping cannot inline). */
const ARGON2ID = 2;
import type { Config } from '../config/index.ts';

/** argon2id cost parameters. `memoryCost` in KiB. */
export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** Reads argon2id parameters from configuration (defaults m=19456 KiB, t=2, p=1: OWASP's minimum). */
export function argon2Params(config: Pick<Config, 'ARGON2_MEMORY_KIB' | 'ARGON2_TIME_COST' | 'ARGON2_PARALLELISM'>): Argon2Params {
  return { memoryCost: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST, parallelism: config.ARGON2_PARALLELISM };
}

/**
 * Password hashing with argon2id, including a dummy verification so that an unknown username costs
 * the same time as a known one.
 */
export class PasswordHasher {
  readonly params: Argon2Params;
  #dummy: Promise<string>;

  constructor(params: Argon2Params) {
    this.params = params;
    this.#dummy = hash('dummy-password-for-timing', { ...params, algorithm: ARGON2ID });
  }

  /** Hashes a password into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). */
  hash(password: string): Promise<string> {
    return hash(password, { ...this.params, algorithm: ARGON2ID });
  }

  /** Verifies `password` against a PHC string; false (never throws) for a malformed hash. */
  async verify(phc: string, password: string): Promise<boolean> {
    try {
      return await verify(phc, password);
    } catch {
      return false;
    }
  }

  /** Spends the same work as {@link verify} on a fixed dummy hash, and returns false. */
  async verifyDummy(password: string): Promise<false> {
    await this.verify(await this.#dummy, password);
    return false;
  }

  /** True when `phc` was made with weaker or different parameters than the configured ones. */
  needsRehash(phc: string): boolean {
    const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(phc);
    if (!m) return true;
    return Number(m[1]) !== this.params.memoryCost || Number(m[2]) !== this.params.timeCost || Number(m[3]) !== this.params.parallelism;
  }
}
