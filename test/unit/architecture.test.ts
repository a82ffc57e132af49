import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cycles, folderTies, homelessSql, importGraph, longFunctions, schemaTables, SQL_ALLOWED_OUTSIDE, UNTYPED_TABLES } from '../../scripts/check-architecture.ts';

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

  it('has no SQL on any table outside src/db/repositories (but the portal\'s own session table)', () => {
    expect(homelessSql(srcDir)).toEqual([]);
  });

  it('takes the tables from interface Database in src/db/schema.ts', () => {
    const tables = schemaTables(path.join(srcDir, 'db', 'schema.ts'));
    expect(tables).toEqual(expect.arrayContaining(['accounts', 'oidc_payloads', 'signing_keys', 'audit_events', 'session_activity', 'resource_servers', 'backchannel_logouts', 'producer_records', 'terms', 'portal_sessions']));
    expect(tables).not.toContain('rate_limits');
    expect(UNTYPED_TABLES).toEqual(['rate_limits']);
    expect(SQL_ALLOWED_OUTSIDE).toEqual({ portal_sessions: 'portal/' });
  });

  it('the SQL check finds queries on any table outside the repositories, and only there', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'arch-'));
    try {
      const query = [
        "await db.selectFrom('flows').selectAll();",
        "await db.updateTable('accounts').set({});",
        'await sql`UPDATE one_time_codes SET attempts = 0`.execute(db);',
        "await db.selectFrom('accounts as a').leftJoin('widgets as w', 'w.id', 'a.id').selectAll();",
        'await sql<{ id: string }>`SELECT s.id FROM widgets s JOIN gadgets g ON true`.execute(db);',
        'await sql`delete from rate_limits where expire < 0`.execute(db);',
        "await db.deleteFrom('portal_sessions').execute();",
        "const text = 'select from widgets'; // not SQL: no template",
        '',
      ].join('\n');
      mkdirSync(path.join(dir, 'x'));
      mkdirSync(path.join(dir, 'portal'));
      mkdirSync(path.join(dir, 'db', 'repositories'), { recursive: true });
      writeFileSync(path.join(dir, 'db', 'schema.ts'), "export interface Database {\n  flows: FlowsTable;\n  accounts: AccountsTable;\n  one_time_codes: CodesTable;\n  widgets: WidgetsTable;\n  gadgets: GadgetsTable;\n  portal_sessions: PortalTable;\n}\n");
      writeFileSync(path.join(dir, 'x', 'a.ts'), query);
      writeFileSync(path.join(dir, 'portal', 'store.ts'), query);
      writeFileSync(path.join(dir, 'db', 'repositories', 'flows.ts'), query);
      const a = (line: number, table: string) => `${path.join('x', 'a.ts')}:${line} (${table})`;
      const p = (line: number, table: string) => `${path.join('portal', 'store.ts')}:${line} (${table})`;
      const inA = [a(1, 'flows'), a(2, 'accounts'), a(4, 'accounts'), a(4, 'widgets'), a(7, 'portal_sessions'), a(3, 'one_time_codes'), a(5, 'widgets'), a(5, 'gadgets'), a(6, 'rate_limits')];
      // The portal's own table is allowed in portal/ only; every other table is reported there too.
      const inPortal = [p(1, 'flows'), p(2, 'accounts'), p(4, 'accounts'), p(4, 'widgets'), p(3, 'one_time_codes'), p(5, 'widgets'), p(5, 'gadgets'), p(6, 'rate_limits')];
      expect(homelessSql(dir).sort()).toEqual([...inA, ...inPortal].sort());
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
