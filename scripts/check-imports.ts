/**
 * Import-graph check for src/ (issue 8): no import cycles between files, and no two top-level
 * folders of src/ that import each other. Reads `import … from './x.ts'` lines (type imports
 * included: a type cycle is still a tie). Prints the problems and exits 1 when there are any.
 * Run: `node scripts/check-imports.ts` (test/unit/architecture.test.ts runs it too).
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

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const srcDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');
  const graph = importGraph(srcDir);
  const rel = (f: string) => path.relative(srcDir, f);
  const c = cycles(graph);
  const t = folderTies(graph, srcDir);
  for (const cycle of c) console.log(`cycle: ${cycle.map(rel).join(' -> ')}`);
  for (const tie of t) console.log(`folder tie: ${tie}`);
  console.log(c.length || t.length ? `${c.length} cycle(s), ${t.length} folder tie(s)` : `no cycles, no folder ties (${graph.size} files)`);
  process.exitCode = c.length || t.length ? 1 : 0;
}
