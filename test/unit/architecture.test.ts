import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cycles, folderTies, importGraph, longFunctions } from '../../scripts/check-architecture.ts';

const srcDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');
const rel = (f: string) => path.relative(srcDir, f);

describe('architecture of src/ (issue 8)', () => {
  const graph = importGraph(srcDir);

  it('has no import cycle, type imports included', () => {
    expect(cycles(graph).map((c) => c.map(rel).join(' -> '))).toEqual([]);
  });

  it('has no two top-level folders that import each other (e.g. flows <-> interactions)', () => {
    expect(folderTies(graph, srcDir)).toEqual([]);
  });

  it('has no function over 80 lines without a stated reason', () => {
    expect(longFunctions(srcDir)).toEqual([]);
  });

  it('the checks find what they look for', () => {
    const a = path.join(srcDir, 'x/a.ts');
    const b = path.join(srcDir, 'y/b.ts');
    const tied = new Map([[a, [b]], [b, [a]]]);
    expect(cycles(tied)).toHaveLength(1);
    expect(folderTies(tied, srcDir)).toEqual(['x <-> y']);
  });
});
