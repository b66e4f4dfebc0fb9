/**
 * The import-boundary rules of docs/architecture.md#boundaries, as a pure function over a set of
 * source files (path relative to the repository → text), so the rules are tested on small made-up
 * trees as well as applied to `src/`.
 *
 * - **No import cycles** between files, type-only imports included (`import type` still couples
 *   the two files' design, and a cycle today is a runtime cycle after the next refactor).
 * - **Capabilities are entered through their front door**: a file outside `src/<capability>/` may
 *   import only that folder's `index.ts` or `contract.ts`.
 * - **Production code does not import the composition root or the test harness**: nothing in
 *   `src/` but the command line imports `src/server.ts`, and no production file imports
 *   `test-support/` or a `testing.ts` harness.
 * - **Settings are read in one place**: no production file but `src/config.ts` reads `process.env`.
 *
 * Imports are read with the TypeScript compiler's pre-processor (static, `export … from`, dynamic
 * `import()` and `import type` alike); relative specifiers ending in `.js` resolve to `.ts`/`.tsx`.
 */
import ts from 'typescript';

export interface Violation {
  rule: 'cycle' | 'internal-import' | 'composition-root' | 'test-harness' | 'process-env';
  file: string;
  detail: string;
}

/** Files that make up the test harness: never shipped, never imported by production code. */
export function isHarness(file: string): boolean {
  return /(^|\/)test-support\//.test(file) || /(^|\/)testing\.ts$/.test(file);
}

export function isTest(file: string): boolean {
  return /\.test\.tsx?$/.test(file) || !file.startsWith('src/');
}

export function isProduction(file: string): boolean {
  return file.startsWith('src/') && !isTest(file) && !isHarness(file);
}

/** `src/cohorts/pull/run.ts` → `cohorts`; root files (`src/server.ts`, `src/config.ts`) → null. */
export function capabilityOf(file: string): string | null {
  const m = /^src\/([^/]+)\/.+/.exec(file);
  return m ? m[1]! : null;
}

/** The modules of a capability other folders may import. */
export function isFrontDoor(file: string): boolean {
  return /^src\/[^/]+\/(index|contract)\.tsx?$/.test(file);
}

/** Entry points that compose capabilities and may therefore reach the composition root. */
const COMPOSERS = new Set(['cli']);

export function importsOf(file: string, source: string): string[] {
  const info = ts.preProcessFile(source, true, true);
  return info.importedFiles.map((f) => f.fileName);
}

export function resolveImport(from: string, specifier: string, files: ReadonlySet<string>): string | null {
  if (!specifier.startsWith('.')) return null;
  const dir = from.split('/').slice(0, -1);
  for (const part of specifier.split('/')) {
    if (part === '.' || part === '') continue;
    if (part === '..') dir.pop();
    else dir.push(part);
  }
  const base = dir.join('/');
  const stem = base.replace(/\.(js|jsx|mjs)$/, '');
  for (const candidate of [base, `${stem}.ts`, `${stem}.tsx`, `${stem}/index.ts`, `${stem}/index.tsx`]) {
    if (files.has(candidate)) return candidate;
  }
  return null;
}

/** `process.env` (or `process['env']`, or `{ env } = process`) read outside src/config.ts. */
function readsProcessEnv(source: string): number[] {
  const lines: number[] = [];
  const sf = ts.createSourceFile('x.ts', source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TSX);
  const visit = (node: ts.Node): void => {
    const isProcess = (e: ts.Node): boolean => ts.isIdentifier(e) && e.text === 'process';
    let hit = false;
    if (ts.isPropertyAccessExpression(node) && isProcess(node.expression) && node.name.text === 'env') hit = true;
    if (ts.isElementAccessExpression(node) && isProcess(node.expression) &&
      ts.isStringLiteralLike(node.argumentExpression) && node.argumentExpression.text === 'env') hit = true;
    if (ts.isVariableDeclaration(node) && node.initializer && isProcess(node.initializer) && ts.isObjectBindingPattern(node.name) &&
      node.name.elements.some((el) => (el.propertyName ?? el.name).getText(sf) === 'env')) hit = true;
    if (hit) lines.push(sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return lines;
}

/** Strongly connected components of more than one file (or a file importing itself): Tarjan. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
  return out;
}

/** Folder-level cycles between capabilities (a → b and b → a through any files). */
function capabilityCycles(graph: Map<string, string[]>): string[][] {
  const caps = new Map<string, Set<string>>();
  for (const [from, tos] of graph) {
    const a = capabilityOf(from);
    if (!a || !isProduction(from)) continue;
    for (const to of tos) {
      const b = capabilityOf(to);
      if (!b || b === a || !isProduction(to)) continue;
      if (!caps.has(a)) caps.set(a, new Set());
      caps.get(a)!.add(b);
    }
  }
  const g = new Map<string, string[]>();
  for (const [a, bs] of caps) g.set(a, [...bs]);
  return cycles(g);
}

export function checkImports(sources: ReadonlyMap<string, string>): Violation[] {
  const files = new Set(sources.keys());
  const graph = new Map<string, string[]>();
  const violations: Violation[] = [];
  for (const [file, source] of sources) {
    const targets: string[] = [];
    for (const spec of importsOf(file, source)) {
      const to = resolveImport(file, spec, files);
      if (to) targets.push(to);
    }
    graph.set(file, targets);
    if (!isProduction(file)) continue;
    const cap = capabilityOf(file);
    for (const to of targets) {
      const toCap = capabilityOf(to);
      if (isHarness(to)) {
        violations.push({ rule: 'test-harness', file, detail: `imports the test harness ${to}` });
      } else if (to === 'src/server.ts' && !(cap && COMPOSERS.has(cap))) {
        violations.push({ rule: 'composition-root', file, detail: 'imports src/server.ts' });
      } else if (toCap && toCap !== cap && !isFrontDoor(to)) {
        violations.push({ rule: 'internal-import', file, detail: `imports ${to} (another capability's internals; use src/${toCap}/index.ts)` });
      }
    }
    if (file !== 'src/config.ts') {
      for (const line of readsProcessEnv(source)) {
        violations.push({ rule: 'process-env', file, detail: `line ${line} reads process.env (settings are read in src/config.ts)` });
      }
    }
  }
  const production = new Map([...graph].filter(([f]) => isProduction(f)).map(([f, tos]) => [f, tos.filter(isProduction)] as const));
  for (const comp of cycles(production)) {
    violations.push({ rule: 'cycle', file: comp[0]!, detail: `import cycle: ${comp.join(' ↔ ')}` });
  }
  for (const comp of capabilityCycles(graph)) {
    violations.push({ rule: 'cycle', file: `src/${comp[0]!}/`, detail: `capability cycle: ${comp.join(' ↔ ')}` });
  }
  return violations;
}
