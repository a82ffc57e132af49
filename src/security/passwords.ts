import os from 'node:os';
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

/** How many hashes run at once and how many may wait (see {@link PasswordHasher}). */
export interface HashLimits {
  /** Hashes computed at the same time (each holds `memoryCost` KiB). Default: the machine's parallelism. */
  concurrency: number;
  /** Hashes allowed to wait for a free slot before {@link PasswordHasher.saturated} turns true. */
  queueMax: number;
}

/** Reads the hash limits from configuration (ARGON2_MAX_CONCURRENT, ARGON2_QUEUE_MAX). */
export function hashLimits(config: Pick<Config, 'ARGON2_MAX_CONCURRENT' | 'ARGON2_QUEUE_MAX'>): HashLimits {
  return { concurrency: config.ARGON2_MAX_CONCURRENT, queueMax: config.ARGON2_QUEUE_MAX };
}

/**
 * Password hashing with argon2id, including a dummy verification so that an unknown username costs
 * the same time as a known one.
 *
 * At most `limits.concurrency` hashes (and verifications, dummy ones included) run at once; the
 * others wait in order. Without the cap every request in flight held a 19 MiB argon2 block and
 * filled the libuv pool that file reads and token signatures share (issue 12). Callers do not get
 * errors from the cap: requests that would hash are refused before they start while
 * {@link saturated} is true (security/hash-admission.ts answers 503 with Retry-After), so a
 * refusal never leaves an attempt counted without its comparison.
 */
export class PasswordHasher {
  readonly params: Argon2Params;
  readonly limits: HashLimits;
  #dummy: Promise<string>;
  #running = 0;
  #waiting: (() => void)[] = [];

  constructor(params: Argon2Params, limits: HashLimits = { concurrency: os.availableParallelism(), queueMax: 64 }) {
    this.params = params;
    this.limits = limits;
    this.#dummy = hash('dummy-password-for-timing', { ...params, algorithm: ARGON2ID });
  }

  /** Hashes waiting for a free slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** True when `limits.queueMax` hashes or more are waiting: new work should be refused (503). */
  get saturated(): boolean {
    return this.#waiting.length >= this.limits.queueMax;
  }

  /** Runs `fn` in one of the `limits.concurrency` slots, waiting in order for one to be free. */
  async #inSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running < this.limits.concurrency) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve)); // the slot is handed over
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }

  /** Hashes a password into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). */
  hash(password: string): Promise<string> {
    return this.#inSlot(() => hash(password, { ...this.params, algorithm: ARGON2ID }));
  }

  /** Verifies `password` against a PHC string; false (never throws) for a malformed hash. */
  async verify(phc: string, password: string): Promise<boolean> {
    try {
      return await this.#inSlot(() => verify(phc, password));
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
