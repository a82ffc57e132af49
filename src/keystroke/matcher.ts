/**
 * Typing-pattern matcher: how far a verification (normally 3 samples) is from a template, the
 * accept/reject decision against one global threshold, and the replay defence.
 *
 * Distance of one sample x to the template (scaled Manhattan distance, the best of the detectors
 * compared by K. S. Killourhy and R. A. Maxion, "Comparing Anomaly-Detection Algorithms for Keystroke
 * Dynamics", DSN 2009; here on log features, with a robust location and a shrunk spread):
 *   d(x) = (1/F) · Σ_j min( |f_j(x) − loc_j| / spread_j , CAP )      f = featureVector (template.ts)
 * Averaging over the F features makes it dimensionless and independent of the sentence length: a
 * typical genuine sample scores about 1. Each feature's contribution is capped at CAP = 5 so one
 * glitch (a hesitation, a late keyup) cannot reject a typing on its own.
 *
 * Practice (templates made of enrollment samples only, see template.ts): the location of each
 * latency feature may move by α · practice_j, α ∈ {0, ¼, ½, ¾, 1}, and its spread widens by
 * α · PRACTICE_SPREAD (the prediction is uncertain). α is one value for the whole verification (the
 * user's practice does not change between 3 consecutive typings), chosen by maximum likelihood under
 * the Laplace model behind scaled Manhattan: α minimizes mean_s d_s(α) + (1/F) Σ_j ln spread_j(α).
 * The score is then mean_s d_s(α). With a zero practice vector, α = 0 and this is plain scaled
 * Manhattan.
 *
 * Score of a verification = MEAN of its samples' distances. The benchmark compared mean and median
 * of 3: the mean gave the lower EER in protocols B and C (see bench/keystroke.ts).
 *
 * Calibration: a template made of enrollment samples only is less certain (3 samples, and the
 * practice search gives every verification some latitude), so impostors score lower against it than
 * against an adapted template. Its scores are multiplied by ENROLLMENT_ONLY_FACTOR so that one global
 * threshold gives about the same false-accept rate before and after adaptation.
 */
import type { Sample } from './features.ts';
import { featureVector, type Template } from './template.ts';

/**
 * Global acceptance threshold on score(): accept when score ≤ threshold. Tuned by bench/keystroke.ts
 * on the tuning half of the CMU subjects: the largest multiple of 0.1 whose pooled false-accept rate
 * is ≤ 3 % (the 5 % target, with a margin for unseen users) in both enrollment-only use (protocol B)
 * and adaptive use (protocol C). Configuration may override it.
 */
export const DEFAULT_THRESHOLD = 1.5;
/**
 * Score multiplier for templates without sign-in samples (see Calibration above). Tuned with
 * DEFAULT_THRESHOLD on the tuning half: it equalizes the impostor score quantiles of protocols B and C.
 */
export const ENROLLMENT_ONLY_FACTOR = 1.2;
/** Cap on one feature's scaled deviation. */
export const CAP = 5;
/** Spread widening of latency features per unit of α (log units). */
export const PRACTICE_SPREAD = 0.15;
/** Candidate practice states α. */
const ALPHAS = [0, 0.25, 0.5, 0.75, 1];
/** Replay: equal within this many seconds on every feature. */
export const REPLAY_TOLERANCE = 0.001;

export interface ScoreOptions {
  /** How the per-sample distances are combined; default 'mean'. ('median' is kept for the benchmark.) */
  aggregate?: 'mean' | 'median';
  /** Use the practice model when the template has one; default true. (false is kept for the benchmark.) */
  practice?: boolean;
}

/**
 * Score of a verification: samples (1 or more, normally 3, each with the template's n) → a
 * dimensionless distance ≥ 0; lower is more like the template's owner (genuine typings score about
 * 1; times ENROLLMENT_ONLY_FACTOR for a template without sign-in samples). Throws RangeError when there is no sample or a sample's n differs from the template's.
 */
export function score(t: Template, samples: readonly Sample[], opts: ScoreOptions = {}): number {
  if (samples.length === 0) throw new RangeError('score needs at least one sample');
  const F = t.loc.length;
  const X = samples.map((s) => {
    if (s.n !== t.n || s.h.length !== t.n || s.dd.length !== t.n - 1) {
      throw new RangeError(`keystroke sample has n = ${s.n}, the template has n = ${t.n}`);
    }
    return featureVector(s);
  });
  const usePractice = opts.practice !== false && t.practice.some((p) => p !== 0);
  const alphas = usePractice ? ALPHAS : [0];
  let bestKey = Infinity;
  let best = Infinity;
  const d = new Array<number>(X.length);
  for (const a of alphas) {
    let logSpread = 0;
    for (let j = t.n; j < F; j++) logSpread += Math.log(t.spread[j]! + a * PRACTICE_SPREAD);
    for (let k = 0; k < X.length; k++) {
      const x = X[k]!;
      let sum = 0;
      for (let j = 0; j < F; j++) {
        const latency = j >= t.n;
        const loc = t.loc[j]! + (latency ? a * t.practice[j]! : 0);
        const spread = t.spread[j]! + (latency ? a * PRACTICE_SPREAD : 0);
        sum += Math.min(Math.abs(x[j]! - loc) / spread, CAP);
      }
      d[k] = sum / F;
    }
    const s = aggregate(d, opts.aggregate ?? 'mean');
    const key = s + logSpread / F;
    if (key < bestKey) {
      bestKey = key;
      best = s;
    }
  }
  return t.recent.length === 0 ? best * ENROLLMENT_ONLY_FACTOR : best;
}

function aggregate(d: number[], how: 'mean' | 'median'): number {
  if (how === 'mean') return d.reduce((a, b) => a + b, 0) / d.length;
  const s = [...d].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Whether the verification passes: score(t, samples) ≤ threshold (DEFAULT_THRESHOLD unless configured). */
export function accept(t: Template, samples: readonly Sample[], threshold: number = DEFAULT_THRESHOLD): boolean {
  return score(t, samples) <= threshold;
}

/**
 * Replay defence: true when `sample` equals one of `known` within REPLAY_TOLERANCE (1 ms) on every
 * feature (h, dd, ud). `known` = the samples stored in the template (templateSamples) plus those
 * already presented in earlier verifications, accepted or not, and the other samples of the same
 * verification. Two real typings never agree that closely on every key (a sentence has 90+ features).
 */
export function isReplay(sample: Sample, known: readonly Sample[]): boolean {
  return known.some((k) => sameWithin(sample, k, REPLAY_TOLERANCE));
}

function sameWithin(a: Sample, b: Sample, tol: number): boolean {
  if (a.n !== b.n || a.h.length !== b.h.length || a.dd.length !== b.dd.length || a.ud.length !== b.ud.length) return false;
  const close = (x: number[], y: number[]) => x.every((v, i) => Math.abs(v - y[i]!) <= tol + 1e-9);
  return close(a.h, b.h) && close(a.dd, b.dd) && close(a.ud, b.ud);
}
