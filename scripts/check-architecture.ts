/**
 * Architecture checks for src/ (issue 8), without a dependency:
 * - no import cycles between files, and no two top-level folders of src/ that import each other
 *   (reads `import … from './x.ts'` lines, type imports included: a type cycle is still a tie);
 * - no function longer than {@link MAX_FUNCTION_LINES} lines unless the comment just above it
 *   states why (`long-function: <reason>`);
 * - no SQL on any table outside src/db/repositories (kysely's `selectFrom('t')`, `insertInto`,
 *   `updateTable`, `deleteFrom`, joins, and `from/into/update/join t` inside sql`…` templates, for
 *   the tables of `interface Database` in src/db/schema.ts and {@link UNTYPED_TABLES}), but for
 *   the short allow-list {@link SQL_ALLOWED_OUTSIDE} (the portal's own session table).
 * Prints the problems and exits 1 when there are any. Run: `node scripts/check-architecture.ts`
 * (test/unit/architecture.test.ts runs the same checks).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const IMPORT = /^\s*(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]/gm;

/** Every .ts file below `dir`, as absolute paths. */
function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? filesBelow(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The import graph of `srcDir`: file → the files it imports (relative imports only). */
export function importGraph(srcDir: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of filesBelow(srcDir)) {
    const text = readFileSync(file, 'utf8');
    const deps = [...text.matchAll(IMPORT)].map((m) => path.resolve(path.dirname(file), m[1]));
    graph.set(file, deps);
  }
  return graph;
}

/** Import cycles (each as a list of files, the first repeated at the end), found by depth-first search. */
export function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 'open') found.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d) && graph.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return found;
}

/** Pairs of top-level folders (or root files) of src/ that import each other, e.g. `flows <-> interactions`. */
export function folderTies(graph: Map<string, string[]>, srcDir: string): string[] {
  const top = (f: string) => path.relative(srcDir, f).split(path.sep)[0].replace(/\.ts$/, '');
  const edges = new Set<string>();
  for (const [f, deps] of graph) for (const d of deps) if (top(f) !== top(d)) edges.add(`${top(f)} -> ${top(d)}`);
  const ties: string[] = [];
  for (const e of edges) {
    const [a, b] = e.split(' -> ');
    if (a < b && edges.has(`${b} -> ${a}`)) ties.push(`${a} <-> ${b}`);
  }
  return ties;
}

/** The longest function (lines, from its first line to its closing brace) without a stated reason. */
export const MAX_FUNCTION_LINES = 80;

const FUNCTION_START = /\bfunction\b|=>\s*\{$|^\s*(?:async\s+)?\w+\s*\([^)]*\)[^=]*\{$/;

/**
 * Functions longer than `max` lines, as `file:line (n lines)`. A line ending in `{` that starts a
 * function (declaration, method, arrow) is measured to its matching brace; one whose preceding
 * lines (up to 3) hold `long-function:` is allowed.
 */
export function longFunctions(srcDir: string, max = MAX_FUNCTION_LINES): string[] {
  const found: string[] = [];
  for (const file of filesBelow(srcDir)) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (!line.trimEnd().endsWith('{') || !FUNCTION_START.test(line)) return;
      let depth = 0;
      let end = i;
      for (; end < lines.length; end++) {
        depth += (lines[end].match(/\{/g) ?? []).length - (lines[end].match(/\}/g) ?? []).length;
        if (depth <= 0) break;
      }
      const length = end - i + 1;
      const reason = lines.slice(Math.max(0, i - 3), i).some((l) => l.includes('long-function:'));
      if (length > max && !reason) found.push(`${path.relative(srcDir, file)}:${i + 1} (${length} lines)`);
    });
  }
  return found;
}

/**
 * The tables of `interface Database` in `schemaFile` (src/db/schema.ts), in their order there:
 * every table the application's code may query.
 */
export function schemaTables(schemaFile: string): string[] {
  const body = /export interface Database\s*\{([^}]*)\}/.exec(readFileSync(schemaFile, 'utf8'))?.[1];
  if (!body) throw new Error(`no "export interface Database" in ${schemaFile}`);
  return [...body.matchAll(/^\s*(\w+)\s*:/gm)].map((m) => m[1]);
}

/**
 * Tables that no schema type describes but the code queries: rate-limiter-flexible's `rate_limits`
 * (its layout is the library's; src/db/repositories/rate-limits.ts purges it).
 */
export const UNTYPED_TABLES = ['rate_limits'];

/**
 * The only SQL allowed outside src/db/repositories, as table → the folder of src/ (with trailing
 * `/`) that may query it: the portal's session table belongs to the portal, a separate relying-party
 * application that must not import the IdP's modules (src/portal/session.ts is its home).
 */
export const SQL_ALLOWED_OUTSIDE: Readonly<Record<string, string>> = { portal_sessions: 'portal/' };

const KYSELY = /\b(?:selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto|innerJoin|leftJoin|rightJoin|fullJoin)\(\s*['"](\w+)(?:\s+as\s+\w+)?['"]/g;

/**
 * SQL outside src/db/repositories, as `file:line (table)`: kysely's `selectFrom('t')`,
 * `insertInto`, `updateTable`, `deleteFrom`, joins (any table name), and `from/into/update/join t`
 * inside sql`…` templates for the tables of `tables` (default: {@link schemaTables} of
 * `srcDir/db/schema.ts` and {@link UNTYPED_TABLES}). {@link SQL_ALLOWED_OUTSIDE} is not reported.
 */
export function homelessSql(srcDir: string, tables = [...schemaTables(path.join(srcDir, 'db', 'schema.ts')), ...UNTYPED_TABLES]): string[] {
  const home = path.join(srcDir, 'db', 'repositories') + path.sep;
  const raw = new RegExp(String.raw`\b(?:from|into|update|join)\s+"?(${tables.join('|')})\b`, 'gi');
  const found: string[] = [];
  for (const file of filesBelow(srcDir)) {
    if (file.startsWith(home) || file === path.join(srcDir, 'db', 'schema.ts')) continue;
    const relFile = path.relative(srcDir, file);
    const text = readFileSync(file, 'utf8');
    const lineOf = (index: number) => text.slice(0, index).split('\n').length;
    const report = (m: RegExpMatchArray, offset = 0) => {
      const folder = SQL_ALLOWED_OUTSIDE[m[1]];
      if (folder === undefined || !relFile.split(path.sep).join('/').startsWith(folder)) found.push(`${relFile}:${lineOf(offset + (m.index ?? 0))} (${m[1]})`);
    };
    for (const m of text.matchAll(KYSELY)) report(m);
    for (const tpl of text.matchAll(/\bsql(?:<[^`]*?>)?`([^`]*)`/g)) for (const m of tpl[1].matchAll(raw)) report(m, (tpl.index ?? 0) + tpl[0].indexOf('`') + 1);
  }
  return found;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const srcDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');
  const graph = importGraph(srcDir);
  const rel = (f: string) => path.relative(srcDir, f);
  const c = cycles(graph);
  const t = folderTies(graph, srcDir);
  for (const cycle of c) console.log(`cycle: ${cycle.map(rel).join(' -> ')}`);
  for (const tie of t) console.log(`folder tie: ${tie}`);
  const long = longFunctions(srcDir);
  for (const f of long) console.log(`function over ${MAX_FUNCTION_LINES} lines without a stated reason: ${f}`);
  const homeless = homelessSql(srcDir);
  for (const f of homeless) console.log(`SQL outside src/db/repositories: ${f}`);
  const problems = c.length + t.length + long.length + homeless.length;
  console.log(
    problems
      ? `${c.length} cycle(s), ${t.length} folder tie(s), ${long.length} long function(s), ${homeless.length} query(ies) outside a repository`
      : `no cycles, no folder ties, no long functions, no queries outside their repository (${graph.size} files)`,
  );
  process.exitCode = problems ? 1 : 0;
}
