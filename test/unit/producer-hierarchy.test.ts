import { describe, expect, it } from 'vitest';
import { hierarchyProblems } from '../../src/producers/hierarchy.ts';
import type { ProducerRecord } from '../../src/producers/records.ts';

/** A record with only what the hierarchy rules read. */
const r = (producerNumber: string, parentProducerNumber: string | null) => ({ producerNumber, parentProducerNumber }) as ProducerRecord;
const none = new Map<string, string | null>();

describe('producer hierarchy of an import (parent_producer_number)', () => {
  it.each([
    ['a three-level hierarchy in the file', [r('000000001', null), r('000000002', '000000001'), r('000000003', '000000002')], none, []],
    ['a parent that is already stored', [r('000000002', '000000009')], new Map([['000000009', null]]), []],
    ['a parent in neither the file nor the store', [r('000000001', null), r('000000002', '000000077')], none,
      ['line 3: parent_producer_number "000000077" is neither in this file nor among the stored producers']],
    ['a cycle inside the file', [r('000000001', '000000003'), r('000000002', '000000001'), r('000000003', '000000002')], none,
      ['line 2: parent_producer_number makes a cycle: 000000001 → 000000003 → 000000002 → 000000001 (lines 2, 3, 4)']],
    ['a cycle through a stored link the file does not replace', [r('000000001', '000000002')], new Map([['000000002', '000000001'], ['000000001', null]]),
      ['line 2: parent_producer_number makes a cycle: 000000001 → 000000002 → 000000001 (lines 2)']],
    ['a stored cycle that the file breaks', [r('000000001', null)], new Map([['000000002', '000000001'], ['000000001', '000000002']]), []],
  ])('%s', (_name, records, stored, expected) => {
    const lines = records.map((_, i) => i + 2);
    expect(hierarchyProblems(records, lines, stored).map((p) => `line ${p.line}: ${p.reason}`)).toEqual(expected);
  });
});
