/**
 * The three evaluation protocols of bench/keystroke.ts. A detector is trained on a subject's first
 * repetitions and scores probes (one or several samples); lower score = more like the subject.
 * Repetition numbers below are 1-based, in (sessionIndex, rep) order.
 */
import type { Sample } from '../src/keystroke/features.ts';
import type { Subject } from './keystroke-data.ts';
import { eer, mean, ratesAt } from './keystroke-eer.ts';

export interface Detector<M> {
  name: string;
  train(samples: Sample[]): M;
  score(model: M, probe: Sample[]): number;
  /** Adaptation after a completed sign-in (protocol C); without it the model stays as trained. */
  update?(model: M, samples: Sample[]): M;
}

export interface ProtocolResult {
  /** Mean over subjects of the per-subject EER. */
  eer: number;
  /** Subjects with an EER (enough repetitions for the protocol). */
  subjects: number;
  perSubject: { id: string; eer: number; genuine: number[]; impostor: number[] }[];
  /** Pooled FAR/FRR at the given threshold (all subjects' scores together), if asked for. */
  atThreshold?: { far: number; frr: number };
  genuineCount: number;
  impostorCount: number;
  ms: number;
}

function groups(samples: Sample[], from: number, to: number, size: number): Sample[][] {
  const out: Sample[][] = [];
  for (let i = from; i + size <= to && i + size <= samples.length; i += size) out.push(samples.slice(i, i + size));
  return out;
}

function finish(perSubject: ProtocolResult['perSubject'], t0: number, threshold?: number): ProtocolResult {
  const allG = perSubject.flatMap((s) => s.genuine);
  const allI = perSubject.flatMap((s) => s.impostor);
  // Subjects without genuine or impostor probes (short CSVs) have no EER and are left out of the mean.
  const eers = perSubject.map((s) => s.eer).filter((x) => Number.isFinite(x));
  return {
    eer: eers.length ? mean(eers) : NaN,
    subjects: eers.length,
    perSubject,
    atThreshold: threshold === undefined ? undefined : ratesAt(allG, allI, threshold),
    genuineCount: allG.length,
    impostorCount: allI.length,
    ms: performance.now() - t0,
  };
}

/**
 * Protocol A (Killourhy & Maxion 2009, section 4): train on repetitions 1–200; genuine probes are
 * repetitions 201–400, one sample each; impostor probes are the first 5 repetitions of every other
 * subject, one sample each. EER per subject, then the mean.
 */
export function protocolA<M>(subjects: Subject[], d: Detector<M>, o: ProtocolOptions = {}): ProtocolResult {
  const evaluate = o.evaluate ?? subjects;
  const t0 = performance.now();
  const per = evaluate.map((s) => {
    const model = d.train(s.samples.slice(0, 200));
    const genuine = s.samples.slice(200, 400).map((x) => d.score(model, [x]));
    const impostor = subjects.filter((o) => o !== s).flatMap((o) => o.samples.slice(0, 5).map((x) => d.score(model, [x])));
    return { id: s.id, eer: eer(genuine, impostor), genuine, impostor };
  });
  return finish(per, t0, o.threshold);
}

/**
 * Impostor probes of B and C: 5 groups of 3 from 15 repetitions of every other subject, by default
 * the first 15 (`from` = 0); `from` = 385 takes repetitions 386–400 (practised impostors).
 */
function impostorGroups(subjects: Subject[], s: Subject, from = 0): Sample[][] {
  return subjects.filter((o) => o !== s).flatMap((o) => groups(o.samples, from, from + 15, 3));
}

export interface ProtocolOptions {
  /** Subjects evaluated as genuine users (default all); impostors always come from all subjects. */
  evaluate?: Subject[];
  /** FAR/FRR are reported at this threshold. */
  threshold?: number;
  /** 0-based first repetition of the impostors' 15 (default 0). */
  impostorFrom?: number;
  /** Protocol C: impostors are scored before every `every`-th sign-in (default 20). */
  every?: number;
}

/**
 * Protocol B (our enrollment): train on repetitions 1–3; genuine probes are groups of 3 consecutive
 * repetitions from 201–400 (201–203, …, 396–398: 66 groups); impostor probes 5 groups of 3 from
 * every other subject's first 15 repetitions. EER per subject, mean; FAR/FRR at `threshold`.
 */
export function protocolB<M>(subjects: Subject[], d: Detector<M>, o: ProtocolOptions = {}): ProtocolResult {
  const evaluate = o.evaluate ?? subjects;
  const t0 = performance.now();
  const per = evaluate.map((s) => {
    const model = d.train(s.samples.slice(0, 3));
    const genuine = groups(s.samples, 200, 400, 3).map((g) => d.score(model, g));
    const impostor = impostorGroups(subjects, s, o.impostorFrom).map((g) => d.score(model, g));
    return { id: s.id, eer: eer(genuine, impostor), genuine, impostor };
  });
  return finish(per, t0, o.threshold);
}

/**
 * Protocol C (deployment): enroll on repetitions 1–3, then repetitions 4–399 are 132 sign-ins of 3
 * samples each, in order. Each sign-in is scored against the template as it stands, then updates it
 * (ALL genuine sign-ins update it: the product adapts after any completed sign-in, and a genuine user
 * whose typing was rejected completes the sign-in with the email code). Impostor groups (as in B) are
 * scored against the template at checkpoints: before sign-in 1, 21, 41, … (every `every` sign-ins),
 * and never update it. EER per subject over all genuine and checkpoint impostor scores, mean.
 */
export function protocolC<M>(subjects: Subject[], d: Detector<M>, o: ProtocolOptions = {}): ProtocolResult {
  const evaluate = o.evaluate ?? subjects;
  const every = o.every ?? 20;
  const t0 = performance.now();
  const per = evaluate.map((s) => {
    let model = d.train(s.samples.slice(0, 3));
    const imp = impostorGroups(subjects, s, o.impostorFrom);
    const genuine: number[] = [];
    const impostor: number[] = [];
    groups(s.samples, 3, 400, 3).forEach((g, k) => {
      if (k % every === 0) for (const x of imp) impostor.push(d.score(model, x));
      genuine.push(d.score(model, g));
      if (d.update) model = d.update(model, g);
    });
    return { id: s.id, eer: eer(genuine, impostor), genuine, impostor };
  });
  return finish(per, t0, o.threshold);
}
