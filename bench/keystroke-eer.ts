/**
 * Equal error rate and error rates at a threshold. Scores are distances: a probe is accepted when
 * its score is ≤ the threshold.
 */

/**
 * EER by threshold sweep: every distinct score is a candidate threshold (plus −∞); FRR(t) = share of
 * genuine scores > t, FAR(t) = share of impostor scores ≤ t. FRR − FAR goes from ≥ 0 to ≤ 0; the EER
 * is linearly interpolated between the two sweep points where the sign changes.
 */
export function eer(genuine: readonly number[], impostor: readonly number[]): number {
  if (genuine.length === 0 || impostor.length === 0) return NaN;
  const g = Float64Array.from(genuine).sort();
  const im = Float64Array.from(impostor).sort();
  const thresholds = Float64Array.from(new Set([...g, ...im])).sort();
  // Point at t = −∞: FRR = 1, FAR = 0.
  let prevFar = 0;
  let prevFrr = 1;
  let gi = 0; // count of genuine ≤ t
  let ii = 0; // count of impostor ≤ t
  for (const t of thresholds) {
    while (gi < g.length && g[gi]! <= t) gi++;
    while (ii < im.length && im[ii]! <= t) ii++;
    const frr = 1 - gi / g.length;
    const far = ii / im.length;
    if (frr - far <= 0) {
      const d0 = prevFrr - prevFar; // ≥ 0
      const d1 = frr - far; // ≤ 0
      const a = d0 === d1 ? 0 : d0 / (d0 - d1);
      const farX = prevFar + a * (far - prevFar);
      const frrX = prevFrr + a * (frr - prevFrr);
      return (farX + frrX) / 2;
    }
    prevFar = far;
    prevFrr = frr;
  }
  return 0.5; // unreachable: at the largest score FRR = 0 ≤ FAR
}

/** FAR and FRR at a fixed threshold (accept when score ≤ threshold). */
export function ratesAt(genuine: readonly number[], impostor: readonly number[], threshold: number): { far: number; frr: number } {
  let fr = 0;
  for (const s of genuine) if (!(s <= threshold)) fr++;
  let fa = 0;
  for (const s of impostor) if (s <= threshold) fa++;
  return { far: fa / impostor.length, frr: fr / genuine.length };
}

export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function sd(xs: readonly number[]): number {
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}
