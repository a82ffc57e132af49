/**
 * Loads a keystroke-timing CSV in the layout of the CMU Keystroke Dynamics Benchmark
 * (Killourhy & Maxion, DSN 2009): columns `subject, sessionIndex, rep`, then timing features in
 * seconds whose names start with `H.` (hold), `DD.` (keydown→keydown) and `UD.` (keyup→keydown),
 * in key order. Any CSV with that layout works: the H columns give the n keys in order, the DD and
 * UD columns (n − 1 each) the n − 1 key pairs, also in column order.
 *
 * The data are read at benchmark time and never copied into the repository.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { Sample } from '../src/keystroke/features.ts';

export interface Subject {
  id: string;
  /** Repetitions ordered by (sessionIndex, rep); `samples[0]` is repetition 1. */
  samples: Sample[];
}

export interface Dataset {
  path: string;
  /** Number of keys (H columns) = the sample's `n`. */
  n: number;
  featureNames: { h: string[]; dd: string[]; ud: string[] };
  subjects: Subject[];
  rows: number;
}

export function loadDataset(path: string): Dataset {
  const records = parse(readFileSync(path, 'utf8'), { skip_empty_lines: true, trim: true }) as string[][];
  const header = records[0];
  if (!header) throw new Error(`${path}: empty file`);
  const col = (name: string) => {
    const i = header.findIndex((h) => h.toLowerCase() === name.toLowerCase());
    if (i < 0) throw new Error(`${path}: no "${name}" column`);
    return i;
  };
  const cSubject = col('subject');
  const cSession = col('sessionIndex');
  const cRep = col('rep');
  const hIdx: number[] = [];
  const ddIdx: number[] = [];
  const udIdx: number[] = [];
  header.forEach((name, i) => {
    if (name.startsWith('H.')) hIdx.push(i);
    else if (name.startsWith('DD.')) ddIdx.push(i);
    else if (name.startsWith('UD.')) udIdx.push(i);
  });
  const n = hIdx.length;
  if (n < 2 || ddIdx.length !== n - 1 || udIdx.length !== n - 1) {
    throw new Error(`${path}: expected n H.* columns and n-1 DD.* and UD.* columns, got ${n}, ${ddIdx.length}, ${udIdx.length}`);
  }
  const bySubject = new Map<string, { session: number; rep: number; sample: Sample }[]>();
  for (let r = 1; r < records.length; r++) {
    const row = records[r]!;
    const num = (i: number) => {
      const x = Number(row[i]);
      if (!Number.isFinite(x)) throw new Error(`${path}:${r + 1}: column ${header[i]} is not a number: "${row[i]}"`);
      return x;
    };
    const id = row[cSubject]!;
    const list = bySubject.get(id) ?? [];
    bySubject.set(id, list);
    list.push({
      session: num(cSession),
      rep: num(cRep),
      sample: { v: 1, n, h: hIdx.map(num), dd: ddIdx.map(num), ud: udIdx.map(num) },
    });
  }
  const subjects: Subject[] = [...bySubject.entries()].map(([id, list]) => ({
    id,
    samples: list.sort((a, b) => a.session - b.session || a.rep - b.rep).map((x) => x.sample),
  }));
  return {
    path,
    n,
    featureNames: { h: hIdx.map((i) => header[i]!), dd: ddIdx.map((i) => header[i]!), ud: udIdx.map((i) => header[i]!) },
    subjects,
    rows: records.length - 1,
  };
}
