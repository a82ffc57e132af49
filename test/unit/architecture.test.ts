import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cycles, folderTies, homelessSql, importGraph, longFunctions } from '../../scripts/check-architecture.ts';

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

  it('has no SQL on a table with a repository outside src/db/repositories', () => {
    expect(homelessSql(srcDir)).toEqual([]);
  });

  it('the SQL check finds queries outside the repositories, and only there', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'arch-'));
    try {
      const query = "await db.selectFrom('flows').selectAll();\nawait db.updateTable('accounts').set({});\nawait sql`UPDATE one_time_codes SET attempts = 0`.execute(db);\nawait db.selectFrom('accounts').selectAll();\n";
      mkdirSync(path.join(dir, 'x'));
      mkdirSync(path.join(dir, 'db', 'repositories'), { recursive: true });
      writeFileSync(path.join(dir, 'x', 'a.ts'), query);
      writeFileSync(path.join(dir, 'db', 'repositories', 'flows.ts'), query);
      expect(homelessSql(dir)).toEqual([`${path.join('x', 'a.ts')}:1 (flows)`, `${path.join('x', 'a.ts')}:2 (accounts)`, `${path.join('x', 'a.ts')}:3 (one_time_codes)`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the checks find what they look for', () => {
    const a = path.join(srcDir, 'x/a.ts');
    const b = path.join(srcDir, 'y/b.ts');
    const tied = new Map([[a, [b]], [b, [a]]]);
    expect(cycles(tied)).toHaveLength(1);
    expect(folderTies(tied, srcDir)).toEqual(['x <-> y']);
  });
});
