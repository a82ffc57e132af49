/** The source of "now" for every rule that involves time (lock expiry, link lifetimes, flows). */
export interface Clock {
  /** The current instant. */
  now(): Date;
}

/** The real wall clock. */
export const systemClock: Clock = { now: () => new Date() };

/**
 * A clock that tests move by hand, so they cross 30 minutes or 7 days without sleeping.
 * `advance(seconds)` moves it forward; it never moves by itself.
 */
export class ManualClock implements Clock {
  #ms: number;
  constructor(start: Date = new Date()) {
    this.#ms = start.getTime();
  }
  now(): Date {
    return new Date(this.#ms);
  }
  /** Moves the clock forward by `seconds` (may be fractional). */
  advance(seconds: number): void {
    this.#ms += seconds * 1000;
  }
}

/** `date` plus `seconds`. */
export function addSeconds(date: Date, seconds: number): Date {
  return new Date(date.getTime() + seconds * 1000);
}
