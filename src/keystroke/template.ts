/**
 * Typing-pattern template: per-feature location and spread of a user's typing of the sentence,
 * built from enrollment samples and adapted with the samples of completed sign-ins.
 *
 * Pure and JSON-serializable (stored as PostgreSQL jsonb): plain numbers and arrays only. The
 * derived statistics (loc, spread, practice) are a cache of the stored samples: parseTemplate()
 * recomputes them, so a template read back from the database always matches this code.
 *
 * Feature vector (F = 2n − 1 values) of a sample of an n-character sentence:
 *   [ ln(h[0] + ε), …, ln(h[n−1] + ε), ln(dd[0] + ε), …, ln(dd[n−2] + ε) ]   with ε = 0.01 s.
 * Logarithms make every deviation relative (a 20 ms change matters more on a 80 ms hold than on a
 * 600 ms pause) and tamed the long right tail of pauses; ε keeps near-zero values finite and acts as
 * the floor of the spread in seconds. The keyup→keydown latencies ud are not used: ud = dd − h
 * carries no further information, and adding it made every protocol of the benchmark worse.
 *
 * Location: per-feature median over the template's samples. Spread: per-feature mean absolute
 * deviation around that median (the scale of Killourhy & Maxion's scaled Manhattan), shrunk toward a
 * population prior so that 3 enrollment samples give a usable template:
 *   spread_j = (m · mad_j + PRIOR_WEIGHT · PRIOR_SPREAD) / (m + PRIOR_WEIGHT)      (m samples)
 * PRIOR_SPREAD = 0.15 in log units means "a typing varies by about 15 % of (value + 10 ms)", i.e. in
 * seconds a spread of 15 % of the mean with a floor of 1.5 ms: a generic typing statistic, not copied
 * from any data set.
 *
 * Which samples: while the template has fewer than 3 sign-in samples, the enrollment samples (plus
 * any sign-in samples); from then on only the window of the last WINDOW (30) sign-in samples. The
 * enrollment samples stay in the template (anchors for the replay defence and the record) but no
 * longer shape it: they are the first typings ever of a new sentence, and people speed up a lot in
 * their first typings (in the CMU benchmark latencies fall to about half from the first 3 repetitions
 * to repetitions 201–400), so keeping them in the statistics widens every spread for good. Measured
 * with a one-off variant on the benchmark (all subjects): EER A 0.050 instead of 0.046, C 0.030
 * instead of 0.033, but FAR in C at the default threshold 4.3 % instead of 2.2 %: a looser template
 * for ever for a small EER change, so they are left out.
 *
 * Practice model (enrollment-only templates): latencies are expected to fall with practice, long
 * pauses the most. For a latency feature with location l (log seconds) the practised location is
 * predicted as PRACTICE_INTERCEPT + PRACTICE_SLOPE · l (i.e. practised ≈ 0.33 s · √(enrolled s)),
 * never slower than enrolled: practice_j = min(0, PRACTICE_INTERCEPT + (PRACTICE_SLOPE − 1) · l).
 * The matcher lets a verification sit anywhere between "as enrolled" and "practised" (see
 * matcher.ts). These two constants are a least-squares fit, over half of the CMU subjects (the
 * benchmark's tuning half), of the log median latency at repetitions 201–400 on the log median at
 * repetitions 1–3; they are global hyper-parameters, not per-user data. Once the template holds sign-in
 * samples, it follows the user's actual speed and the practice vector is zero.
 */
import { z } from 'zod';
import { parseSample, type Sample } from './features.ts';

/** Number of most recent sign-in samples kept (the adaptation window). */
export const WINDOW = 30;
/** ε of ln(x + ε), seconds. */
export const EPSILON = 0.01;
/** Prior spread, log units (≈ relative spread). */
export const PRIOR_SPREAD = 0.15;
/** Weight of the prior spread, in samples. */
export const PRIOR_WEIGHT = 3;
/** Practice model: practised ln(latency + ε) ≈ PRACTICE_INTERCEPT + PRACTICE_SLOPE · enrolled ln(latency + ε). */
export const PRACTICE_INTERCEPT = -1.1;
export const PRACTICE_SLOPE = 0.5;
/** Fewest sign-in samples for the window alone to make the template (otherwise enrollment + sign-ins). */
const MIN_RECENT = 3;

export interface Template {
  /** Format version. */
  v: 1;
  /** Sentence length: samples must have this n. */
  n: number;
  /** Enrollment samples, as given to createTemplate. Seconds. */
  enrollment: Sample[];
  /** Samples of completed sign-ins, oldest first, at most `window`. Seconds. */
  recent: Sample[];
  /** Adaptation window size used by updateTemplate. */
  window: number;
  /** Number of sign-in samples ever added (including those that left the window). */
  updates: number;
  /** Per feature (F = 2n − 1: n holds then n − 1 keydown→keydown latencies): median of ln(x + ε), log seconds. */
  loc: number[];
  /** Per feature spread, log units: mean absolute deviation shrunk toward PRIOR_SPREAD. */
  spread: number[];
  /** Per feature expected change with practice, log units (≤ 0, holds 0); all 0 once sign-in samples shape the template. */
  practice: number[];
}

export interface TemplateOptions {
  /** Adaptation window (sign-in samples kept); default WINDOW. */
  window?: number;
}

/** The feature vector of a sample (see the module comment), length 2n − 1. */
export function featureVector(s: Sample): number[] {
  const v: number[] = [];
  for (const x of s.h) v.push(Math.log(x + EPSILON));
  for (const x of s.dd) v.push(Math.log(x + EPSILON));
  return v;
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function checkSamples(samples: readonly Sample[], n: number): void {
  for (const s of samples) {
    if (s.n !== n || s.h.length !== n || s.dd.length !== n - 1 || s.ud.length !== n - 1) {
      throw new RangeError(`keystroke sample has n = ${s.n}, the template needs n = ${n}`);
    }
  }
}

/** Recomputes loc, spread and practice from the samples (see the module comment). */
function derive(t: Omit<Template, 'loc' | 'spread' | 'practice'>): Template {
  const enrollmentOnly = t.recent.length === 0;
  const used = t.recent.length >= MIN_RECENT ? t.recent : [...t.enrollment, ...t.recent];
  const X = used.map(featureVector);
  const m = X.length;
  const F = 2 * t.n - 1;
  const loc: number[] = [];
  const spread: number[] = [];
  const practice: number[] = [];
  for (let j = 0; j < F; j++) {
    const col = X.map((x) => x[j]!);
    const l = median(col);
    let mad = 0;
    for (const x of col) mad += Math.abs(x - l);
    mad /= m;
    loc.push(round6(l));
    spread.push(round6((m * mad + PRIOR_WEIGHT * PRIOR_SPREAD) / (m + PRIOR_WEIGHT)));
    const isLatency = j >= t.n;
    practice.push(enrollmentOnly && isLatency ? round6(Math.min(0, PRACTICE_INTERCEPT + (PRACTICE_SLOPE - 1) * l)) : 0);
  }
  return { ...t, loc, spread, practice };
}

/**
 * A template from enrollment samples (3 expected; at least 1), all of the same sentence length n and
 * already validated (parseSample). Throws RangeError on an empty list or mixed n.
 * Result: { v: 1, n, enrollment, recent: [], window, updates: 0, loc[F], spread[F], practice[F] }.
 */
export function createTemplate(samples: readonly Sample[], opts: TemplateOptions = {}): Template {
  const first = samples[0];
  if (!first) throw new RangeError('a keystroke template needs at least one sample');
  checkSamples(samples, first.n);
  const window = opts.window ?? WINDOW;
  if (!Number.isInteger(window) || window < MIN_RECENT) throw new RangeError(`window must be an integer ≥ ${MIN_RECENT}`);
  return derive({ v: 1, n: first.n, enrollment: samples.map(copySample), recent: [], window, updates: 0 });
}

/**
 * Adapts the template after a completed sign-in: appends its samples to the recent window, keeps the
 * last `opts.window ?? t.window` of them, recomputes the statistics. Returns a new template (`t` is
 * not changed). Samples of another n throw RangeError. The product calls this after EVERY completed
 * sign-in whose typing was recorded (also when the typing was rejected and the user then passed
 * another factor), never for a failed sign-in.
 */
export function updateTemplate(t: Template, samples: readonly Sample[], opts: TemplateOptions = {}): Template {
  checkSamples(samples, t.n);
  const window = opts.window ?? t.window;
  const recent = [...t.recent, ...samples.map(copySample)].slice(-window);
  return derive({ v: 1, n: t.n, enrollment: t.enrollment, recent, window, updates: t.updates + samples.length });
}

function copySample(s: Sample): Sample {
  return { v: 1, n: s.n, h: [...s.h], dd: [...s.dd], ud: [...s.ud] };
}

/** Every sample stored in the template (enrollment and recent), e.g. for isReplay. */
export function templateSamples(t: Template): Sample[] {
  return [...t.enrollment, ...t.recent];
}

const templateSchema = z.object({
  v: z.literal(1),
  n: z.number().int().min(2),
  enrollment: z.array(z.unknown()).min(1),
  recent: z.array(z.unknown()),
  window: z.number().int().min(MIN_RECENT),
  updates: z.number().int().min(0),
});

/**
 * Reads a template back (e.g. from jsonb or a JSON string): validates the stored shape and every
 * sample (with parseSample: lengths, bounds, consistency), and recomputes loc, spread and practice.
 * Returns null when it is not a valid template.
 */
export function parseTemplate(json: unknown): Template | null {
  let value = json;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return null;
    }
  }
  const parsed = templateSchema.safeParse(value);
  if (!parsed.success) return null;
  const t = parsed.data;
  const enrollment = t.enrollment.map((s) => parseSample(s, t.n));
  const recent = t.recent.map((s) => parseSample(s, t.n));
  if (enrollment.includes(null) || recent.includes(null)) return null;
  return derive({
    v: 1,
    n: t.n,
    enrollment: enrollment as Sample[],
    recent: (recent as Sample[]).slice(-t.window),
    window: t.window,
    updates: Math.max(t.updates, recent.length),
  });
}
