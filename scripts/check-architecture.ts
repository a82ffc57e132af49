/**
 * Architecture checks for src/ (issue 8), without a dependency:
 * - no import cycles between files, and no two top-level folders of src/ that import each other
 *   (reads `import … from './x.ts'` lines, type imports included: a type cycle is still a tie);
 * - no function longer than {@link MAX_FUNCTION_LINES} lines unless the comment just above it
 *   states why (`long-function: <reason>`);
 * - no SQL on a table that has a repository ({@link HOMED_TABLES}; writes to `accounts`) outside
 *   src/db/repositories (kysely's `selectFrom('t')`, `insertInto`, `updateTable`, `deleteFrom`,
 *   joins, and `from/into/update/join t` inside sql`…` templates).
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
 * Tables whose every query lives in src/db/repositories (one file per table or aggregate): the
 * flows, one-time codes, remembered devices, typing patterns, fake locks of unknown usernames,
 * single-use links and send history. Other tables keep their queries in the one module that owns
 * them (README "Architecture", Persistence).
 */
export const HOMED_TABLES = ['flows', 'one_time_codes', 'trusted_devices', 'keystroke_profiles', 'keystroke_presented', 'unknown_login_locks', 'single_use_links', 'message_sends'];

/** Tables that may be read elsewhere but written only by a repository (the lock counters live in `accounts`). */
export const WRITE_HOMED_TABLES = ['accounts'];

const names = (list: string[]) => list.join('|');
const KYSELY_ANY = new RegExp(String.raw`\b(?:selectFrom|insertInto|updateTable|deleteFrom|innerJoin|leftJoin|rightJoin|fullJoin)\(\s*['"](${names(HOMED_TABLES)})(?:\s+as\s+\w+)?['"]`, 'g');
const KYSELY_WRITE = new RegExp(String.raw`\b(?:insertInto|updateTable|deleteFrom)\(\s*['"](${names(WRITE_HOMED_TABLES)})(?:\s+as\s+\w+)?['"]`, 'g');
const RAW_ANY = new RegExp(String.raw`\b(?:from|into|update|join)\s+"?(${names(HOMED_TABLES)})\b`, 'gi');
const RAW_WRITE = new RegExp(String.raw`\b(?:into|update|delete\s+from)\s+"?(${names(WRITE_HOMED_TABLES)})\b`, 'gi');

/**
 * SQL on {@link HOMED_TABLES} (or writes to {@link WRITE_HOMED_TABLES}) in files of `srcDir`
 * outside db/repositories, as `file:line (table)`.
 */
export function homelessSql(srcDir: string): string[] {
  const home = path.join(srcDir, 'db', 'repositories') + path.sep;
  const found: string[] = [];
  for (const file of filesBelow(srcDir)) {
    if (file.startsWith(home) || file === path.join(srcDir, 'db', 'schema.ts')) continue;
    const text = readFileSync(file, 'utf8');
    const lineOf = (index: number) => text.slice(0, index).split('\n').length;
    const report = (m: RegExpMatchArray, offset = 0) => found.push(`${path.relative(srcDir, file)}:${lineOf(offset + (m.index ?? 0))} (${m[1]})`);
    for (const re of [KYSELY_ANY, KYSELY_WRITE]) for (const m of text.matchAll(re)) report(m);
    for (const tpl of text.matchAll(/\bsql`([^`]*)`/g)) {
      for (const re of [RAW_ANY, RAW_WRITE]) for (const m of tpl[1].matchAll(re)) report(m, (tpl.index ?? 0) + 4);
    }
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
  for (const f of homeless) console.log(`SQL outside src/db/repositories on a table that has one: ${f}`);
  const problems = c.length + t.length + long.length + homeless.length;
  console.log(
    problems
      ? `${c.length} cycle(s), ${t.length} folder tie(s), ${long.length} long function(s), ${homeless.length} query(ies) outside a repository`
      : `no cycles, no folder ties, no long functions, no queries outside their repository (${graph.size} files)`,
  );
  process.exitCode = problems ? 1 : 0;
}
