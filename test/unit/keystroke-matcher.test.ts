import { describe, expect, it } from 'vitest';
import { parseSample, type Sample } from '../../src/keystroke/features.ts';
import { accept, DEFAULT_THRESHOLD, ENROLLMENT_ONLY_FACTOR, isReplay, score } from '../../src/keystroke/matcher.ts';
import { createTemplate, featureVector, parseTemplate, templateSamples, updateTemplate, WINDOW, type Template } from '../../src/keystroke/template.ts';

import { makeTypist, N, rng, sampleOf, samplesOf, type Typist } from '../helpers/typist.ts';

describe('createTemplate', () => {
  it('makes a usable template from 3 samples: location and spread per feature', () => {
    const r = rng(1);
    const alice = makeTypist(r);
    const t = createTemplate(samplesOf(alice, r, 3));
    expect(t.v).toBe(1);
    expect(t.n).toBe(N);
    expect(t.enrollment).toHaveLength(3);
    expect(t.recent).toEqual([]);
    expect(t.window).toBe(WINDOW);
    for (const key of ['loc', 'spread', 'practice'] as const) expect(t[key]).toHaveLength(2 * N - 1);
    expect(t.spread.every((s) => s > 0 && Number.isFinite(s))).toBe(true);
    // holds have no practice shift; latencies can only get faster
    expect(t.practice.slice(0, N).every((p) => p === 0)).toBe(true);
    expect(t.practice.every((p) => p <= 0)).toBe(true);
    // the location is the median of ln(x + 0.01)
    const v = t.enrollment.map(featureVector).map((x) => x[0]!).sort((a, b) => a - b);
    expect(t.loc[0]).toBeCloseTo(v[1]!, 6);
    // a single sample still gives a finite template (spread = prior)
    expect(createTemplate([sampleOf(alice, r)]).spread.every((s) => s > 0)).toBe(true);
  });

  it('refuses no samples or samples of different lengths', () => {
    const r = rng(2);
    expect(() => createTemplate([])).toThrow(RangeError);
    expect(() => createTemplate([sampleOf(makeTypist(r), r), sampleOf(makeTypist(r, 20), r)])).toThrow(RangeError);
  });

  it('survives a JSON round trip (jsonb) with the same scores', () => {
    const r = rng(3);
    const alice = makeTypist(r);
    const t = updateTemplate(createTemplate(samplesOf(alice, r, 3)), samplesOf(alice, r, 7));
    const json = JSON.stringify(t);
    const back = JSON.parse(json) as Template;
    expect(back).toEqual(t);
    expect(parseTemplate(json)).toEqual(t);
    expect(parseTemplate(back)).toEqual(t);
    const probe = samplesOf(alice, r, 3);
    expect(score(back, probe)).toBe(score(t, probe));
  });

  it('parseTemplate rejects what is not a template, or holds invalid samples', () => {
    const r = rng(4);
    const t = createTemplate(samplesOf(makeTypist(r), r, 3));
    for (const junk of [null, 'nope', '{}', { ...t, v: 2 }, { ...t, enrollment: [] }, { ...t, window: 1 }]) expect(parseTemplate(junk)).toBeNull();
    const bad = structuredClone(t);
    bad.enrollment[0]!.h[0] = -1;
    expect(parseTemplate(bad)).toBeNull();
    const wrongN = structuredClone(t);
    wrongN.n = N + 1;
    expect(parseTemplate(wrongN)).toBeNull();
  });
});

describe('score and accept', () => {
  it('accepts a genuine-like set of 3 samples and rejects a very different rhythm', () => {
    const r = rng(5);
    let accepted = 0;
    let rejected = 0;
    for (let k = 0; k < 20; k++) {
      const alice = makeTypist(r);
      const mallory = makeTypist(r);
      const t = createTemplate(samplesOf(alice, r, 3));
      const genuine = samplesOf(alice, r, 3);
      const impostor = samplesOf(mallory, r, 3);
      expect(score(t, impostor)).toBeGreaterThan(score(t, genuine));
      if (accept(t, genuine)) accepted++;
      if (!accept(t, impostor)) rejected++;
    }
    expect(accepted).toBeGreaterThanOrEqual(18);
    expect(rejected).toBe(20);
  });

  it('scores a genuine typing about 1 once the template has adapted, and far more for another rhythm', () => {
    const r = rng(6);
    const alice = makeTypist(r);
    const t = updateTemplate(createTemplate(samplesOf(alice, r, 3)), samplesOf(alice, r, 30));
    const g = score(t, samplesOf(alice, r, 3));
    expect(g).toBeGreaterThan(0.5);
    expect(g).toBeLessThan(DEFAULT_THRESHOLD);
    expect(accept(t, samplesOf(alice, r, 3))).toBe(true);
    // a slow, hesitant rhythm: every latency doubled
    const slow: Typist = { h: alice.h, dd: alice.dd.map((x) => 2 * x) };
    expect(score(t, samplesOf(slow, r, 3))).toBeGreaterThan(3);
    expect(accept(t, samplesOf(slow, r, 3))).toBe(false);
    expect(accept(t, samplesOf(makeTypist(r), r, 3))).toBe(false);
  });

  it('lets an enrollment-only template allow for practice (faster latencies), not for slowness', () => {
    const r = rng(7);
    const alice = makeTypist(r);
    const enrolled = createTemplate(samplesOf(alice, r, 3, 0.05));
    const practised: Typist = { h: alice.h, dd: alice.dd.map((x) => Math.exp(-1.1 + 0.5 * Math.log(x + 0.01)) - 0.01) };
    const slower: Typist = { h: alice.h, dd: alice.dd.map((x, i) => x + (x - practised.dd[i]!)) };
    const sPractised = score(enrolled, samplesOf(practised, r, 3, 0.05));
    const sSlower = score(enrolled, samplesOf(slower, r, 3, 0.05));
    expect(sPractised).toBeLessThan(sSlower);
    expect(score(enrolled, samplesOf(practised, r, 3, 0.05), { practice: false })).toBeGreaterThan(sPractised);
    // enrollment-only scores carry the calibration factor
    expect(ENROLLMENT_ONLY_FACTOR).toBeGreaterThan(1);
  });

  it('uses the mean of the per-sample distances (median on request)', () => {
    const r = rng(8);
    const alice = makeTypist(r);
    const t = updateTemplate(createTemplate(samplesOf(alice, r, 3)), samplesOf(alice, r, 10));
    const probe = samplesOf(alice, r, 3);
    const each = probe.map((s) => score(t, [s]));
    expect(score(t, probe)).toBeCloseTo((each[0]! + each[1]! + each[2]!) / 3, 12);
    expect(score(t, probe, { aggregate: 'median' })).toBeCloseTo([...each].sort((a, b) => a - b)[1]!, 12);
  });

  it('refuses samples of another sentence length', () => {
    const r = rng(9);
    const t = createTemplate(samplesOf(makeTypist(r), r, 3));
    expect(() => score(t, [sampleOf(makeTypist(r, 20), r)])).toThrow(RangeError);
    expect(() => score(t, [])).toThrow(RangeError);
  });

  it('takes the threshold as a parameter', () => {
    const r = rng(10);
    const alice = makeTypist(r);
    const t = createTemplate(samplesOf(alice, r, 3));
    const probe = samplesOf(alice, r, 3);
    const s = score(t, probe);
    expect(accept(t, probe, s)).toBe(true);
    expect(accept(t, probe, s - 1e-9)).toBe(false);
  });
});

describe('isReplay', () => {
  const r = rng(11);
  const alice = makeTypist(r);
  const stored = samplesOf(alice, r, 5);
  const shift = (s: Sample, by: (i: number) => number): Sample => ({
    ...s,
    h: s.h.map((x, i) => x + by(i)),
    dd: s.dd.map((x, i) => x + by(i + 100)),
    ud: s.ud.map((x, i) => x + by(i + 200)),
  });

  it('flags a sample equal within 1 ms on every feature to a known one', () => {
    expect(isReplay(stored[2]!, stored)).toBe(true);
    expect(isReplay(structuredClone(stored[2]!), stored)).toBe(true);
    expect(isReplay(shift(stored[2]!, (i) => (i % 2 ? 0.0009 : -0.0009)), stored)).toBe(true);
    expect(isReplay(shift(stored[2]!, () => 0.001), stored)).toBe(true);
  });

  it('lets through a sample that differs by more than 1 ms on one feature, and fresh typings', () => {
    expect(isReplay(shift(stored[2]!, (i) => (i === 7 ? 0.0015 : 0)), stored)).toBe(false);
    expect(isReplay(shift(stored[2]!, (i) => (i === 207 ? -0.0011 : 0)), stored)).toBe(false);
    expect(isReplay(sampleOf(alice, r), stored)).toBe(false);
    expect(isReplay(stored[0]!, [])).toBe(false);
  });

  it('checks every sample stored in the template', () => {
    const t = updateTemplate(createTemplate(stored.slice(0, 3)), stored.slice(3));
    expect(templateSamples(t)).toHaveLength(5);
    for (const s of stored) expect(isReplay(s, templateSamples(t))).toBe(true);
    // a replayed sample is still a valid sample: only isReplay catches it
    expect(parseSample(JSON.stringify(stored[0]), N)).not.toBeNull();
  });
});

describe('updateTemplate', () => {
  it('keeps a bounded window of the most recent sign-in samples and the enrollment anchors', () => {
    const r = rng(12);
    const alice = makeTypist(r);
    const t0 = createTemplate(samplesOf(alice, r, 3));
    let t = t0;
    const all: Sample[] = [];
    for (let k = 0; k < 20; k++) {
      const g = samplesOf(alice, r, 3);
      all.push(...g);
      t = updateTemplate(t, g);
      expect(t.recent.length).toBeLessThanOrEqual(WINDOW);
    }
    expect(t.recent).toHaveLength(WINDOW);
    expect(t.recent).toEqual(all.slice(-WINDOW));
    expect(t.updates).toBe(60);
    expect(t.enrollment).toEqual(t0.enrollment);
    expect(t0.recent).toEqual([]); // not mutated
    expect(t.practice.every((p) => p === 0)).toBe(true);
    const small = updateTemplate(t, samplesOf(alice, r, 3), { window: 10 });
    expect(small.recent).toHaveLength(10);
    expect(small.window).toBe(10);
  });

  it('follows a user whose rhythm drifts', () => {
    const r = rng(13);
    const alice = makeTypist(r);
    let t = createTemplate(samplesOf(alice, r, 3));
    const faster: Typist = { h: alice.h.map((x) => x * 1.1), dd: alice.dd.map((x) => x * 0.6) };
    const before = score(t, samplesOf(faster, r, 3));
    for (let k = 0; k < 12; k++) t = updateTemplate(t, samplesOf(faster, r, 3));
    const after = score(t, samplesOf(faster, r, 3));
    expect(after).toBeLessThan(before);
    expect(accept(t, samplesOf(faster, r, 3))).toBe(true);
    // and the old rhythm now looks foreign
    expect(score(t, samplesOf(alice, r, 3))).toBeGreaterThan(after);
  });

  it('refuses samples of another sentence length', () => {
    const r = rng(14);
    const t = createTemplate(samplesOf(makeTypist(r), r, 3));
    expect(() => updateTemplate(t, [sampleOf(makeTypist(r, 12), r)])).toThrow(RangeError);
  });
});
