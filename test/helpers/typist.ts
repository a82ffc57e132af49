import type { Sample } from '../../src/keystroke/features.ts';

/** Generated typists for keystroke tests (no real typing data in the repository). */

/** Deterministic pseudo-random generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** A typist: typical hold and keydown→keydown latency per position, seconds. */
export interface Typist {
  h: number[];
  dd: number[];
}

export const N = 35;

export function makeTypist(r: () => number, n = N): Typist {
  return {
    h: Array.from({ length: n }, () => 0.06 + 0.08 * r()),
    dd: Array.from({ length: n - 1 }, () => 0.1 + 0.3 * r()),
  };
}

/** One typing: each value times a log-normal factor (sd `noise`), rounded to 0.1 ms like the recorder. */
export function sampleOf(t: Typist, r: () => number, noise = 0.12): Sample {
  const round = (x: number) => Math.round(x * 1e4) / 1e4;
  const h = t.h.map((x) => round(x * Math.exp(noise * gauss(r))));
  const dd = t.dd.map((x) => round(x * Math.exp(noise * gauss(r))));
  const ud = dd.map((d, i) => round(d - h[i]!));
  return { v: 1, n: h.length, h, dd, ud };
}

export const samplesOf = (t: Typist, r: () => number, k: number, noise?: number) => Array.from({ length: k }, () => sampleOf(t, r, noise));

