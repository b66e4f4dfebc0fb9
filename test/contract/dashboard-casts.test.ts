/**
 * The dashboard asserts no types: answers are typed by the API client's check against the route's
 * schema, select values by a guard (`choice`), JSON by `unknown`. A type assertion (`x as T`,
 * `<T>x`) anywhere in src/web/app/src fails this test; `as const` is not an assertion about data
 * and is allowed. Parsed with the TypeScript compiler, so comments and strings do not count.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const app = join(root, 'src/web/app/src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return /\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name) ? [path] : [];
  });
}

/** Every type assertion of `text`, as `line: source`. */
function assertionsIn(name: string, text: string): string[] {
  const file = ts.createSourceFile(name, text, ts.ScriptTarget.Latest, true, name.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    const isConst = (t: ts.TypeNode) => ts.isTypeReferenceNode(t) && t.typeName.getText(file) === 'const';
    if ((ts.isAsExpression(node) || ts.isTypeAssertionExpression(node)) && !isConst(node.type)) {
      found.push(`${file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1}: ${node.getText(file)}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('the dashboard has no type assertions', () => {
  it('finds them where they are (the check itself)', () => {
    expect(assertionsIn('a.ts', 'const a = JSON.parse(s) as Thing;\nconst b = [1] as const;\n// x as Y\nconst c = "p as q";')).toEqual(['1: JSON.parse(s) as Thing']);
    expect(assertionsIn('b.tsx', 'const x = <div>{(v as number) + 1}</div>;')).toEqual(['1: v as number']);
  });

  it('finds none in src/web/app/src', () => {
    const files = sources(app);
    expect(files.length).toBeGreaterThan(20);
    const found = files.flatMap((f) => assertionsIn(f, readFileSync(f, 'utf8')).map((a) => `${relative(root, f)}:${a}`));
    expect(found).toEqual([]);
  });
});
