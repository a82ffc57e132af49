import type { CsvImportError } from './csv-import.ts';
import type { ProducerRecord } from './records.ts';

/**
 * The producer hierarchy rules of an import (issue 13; the carrier's records link each producer
 * to its upline through `parent_producer_number`):
 * - a parent must exist, in the file or among the producers already stored;
 * - the links may not form a cycle (A → B → … → A), counting the stored links that the file does
 *   not replace.
 * Pure: the caller passes the stored links.
 * @param records the valid rows of the file, with `lines[i]` the file line of `records[i]`
 * @param stored producer number → its stored parent (null for none), for every stored producer
 * @returns one problem per bad row (`line N: …`), empty when the hierarchy is sound.
 */
export function hierarchyProblems(records: readonly ProducerRecord[], lines: readonly number[], stored: ReadonlyMap<string, string | null>): CsvImportError[] {
  const parentOf = new Map(stored);
  const lineOf = new Map<string, number>();
  records.forEach((r, i) => {
    parentOf.set(r.producerNumber, r.parentProducerNumber);
    lineOf.set(r.producerNumber, lines[i] ?? 0);
  });
  const problems: CsvImportError[] = [];
  for (const [i, r] of records.entries()) {
    if (r.parentProducerNumber !== null && !parentOf.has(r.parentProducerNumber)) {
      problems.push({ line: lines[i] ?? 0, reason: `parent_producer_number "${r.parentProducerNumber}" is neither in this file nor among the stored producers` });
    }
  }
  // Cycles: walk up from each row; a walk that comes back to where it started is a cycle. Each
  // cycle is reported once, on the file rows that are part of it.
  const reported = new Set<string>();
  for (const [i, r] of records.entries()) {
    if (reported.has(r.producerNumber)) continue;
    const path: string[] = [r.producerNumber];
    const seen = new Set(path);
    let current = parentOf.get(r.producerNumber) ?? null;
    while (current !== null && !seen.has(current) && parentOf.has(current)) {
      path.push(current);
      seen.add(current);
      current = parentOf.get(current) ?? null;
    }
    if (current !== r.producerNumber) continue;
    for (const member of path) reported.add(member);
    const chain = [...path, r.producerNumber].join(' → ');
    const inFile = path.filter((p) => lineOf.has(p)).map((p) => lineOf.get(p)!);
    problems.push({ line: lines[i] ?? 0, reason: `parent_producer_number makes a cycle: ${chain} (lines ${inFile.sort((a, b) => a - b).join(', ')})` });
  }
  return problems.sort((a, b) => a.line - b.line);
}
