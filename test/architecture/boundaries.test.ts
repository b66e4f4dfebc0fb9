/**
 * The import boundaries of docs/architecture.md#boundaries, checked over the whole of `src/`
 * (rules and reasons in ./import-rules.ts). The first block proves each rule fails on a made-up
 * tree that breaks it, so the check over `src/` cannot pass vacuously.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { checkImports, isHarness, type Violation } from './import-rules.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sourcesUnder(dir: string, out = new Map<string, string>()): Map<string, string> {
  for (const entry of readdirSync(join(ROOT, dir))) {
    const path = `${dir}/${entry}`;
    if (statSync(join(ROOT, path)).isDirectory()) {
      // The dashboard's browser code is its own TypeScript project (src/web/app/tsconfig.json).
      if (path !== 'src/web/app' && entry !== 'node_modules') sourcesUnder(path, out);
    } else if (/\.tsx?$/.test(entry) && !entry.endsWith('.d.ts')) {
      out.set(relative(ROOT, join(ROOT, path)), readFileSync(join(ROOT, path), 'utf8'));
    }
  }
  return out;
}

const show = (v: Violation) => `${v.rule} ${v.file} — ${v.detail}`;
const rulesOf = (files: Record<string, string>) => checkImports(new Map(Object.entries(files))).map((v) => v.rule);

describe('the import rules', () => {
  it('find a cycle, type-only imports included', () => {
    expect(rulesOf({
      'src/a/x.ts': "import type { Y } from './y.js';\nexport type X = Y;",
      'src/a/y.ts': "import type { X } from './x.js';\nexport type Y = X;",
    })).toEqual(['cycle']);
    expect(rulesOf({
      'src/a/x.ts': "export { y } from './y.js';",
      'src/a/y.ts': "export const y = 1; export const z = () => import('./x.js');",
    })).toEqual(['cycle']);
  });

  it('find a cycle between capabilities through their front doors', () => {
    expect(rulesOf({
      'src/a/index.ts': "export { x } from './x.js';",
      'src/a/x.ts': "import { y } from '../b/index.js';\nexport const x = y;",
      'src/b/index.ts': "export const y = 1;",
      'src/b/other.ts': "import { x } from '../a/index.js';\nexport const w = x;",
    })).toEqual(['cycle']);
  });

  it("find an import of another capability's internals, and allow its index.ts and contract.ts", () => {
    expect(rulesOf({
      'src/a/x.ts': "import { y } from '../b/y.js';\nexport const x = y;",
      'src/b/y.ts': 'export const y = 1;',
    })).toEqual(['internal-import']);
    expect(rulesOf({
      'src/a/x.ts': "import { y } from '../b/index.js';\nimport type { C } from '../b/contract.js';\nimport { z } from './deep/z.js';",
      'src/a/deep/z.ts': 'export const z = 1;',
      'src/b/index.ts': 'export const y = 1;',
      'src/b/contract.ts': 'export type C = 1;',
    })).toEqual([]);
  });

  it('find production code importing server.ts or the test harness; tests may', () => {
    expect(rulesOf({
      'src/a/x.ts': "import { createRivulet } from '../server.js';",
      'src/server.ts': 'export const createRivulet = 1;',
    })).toEqual(['composition-root']);
    expect(rulesOf({
      'src/a/x.ts': "import { openTestDb } from '../test-support/db.js';",
      'src/a/y.ts': "import { start } from './pull/testing.js';",
      'src/a/pull/testing.ts': 'export const start = 1;',
      'src/test-support/db.ts': 'export const openTestDb = 1;',
    })).toEqual(['test-harness', 'test-harness']);
    expect(rulesOf({
      'src/a/x.test.ts': "import { openTestDb } from '../test-support/db.js';\nimport { c } from '../server.js';\nimport { y } from '../b/y.js';",
      'src/b/y.ts': 'export const y = 1;',
      'src/server.ts': 'export const c = 1;',
      'src/test-support/db.ts': 'export const openTestDb = 1;',
      'src/cli/main.ts': "import { c } from '../server.js';",
    })).toEqual([]);
  });

  it('find process.env outside src/config.ts, in every spelling', () => {
    expect(rulesOf({
      'src/a/x.ts': "export const a = process.env.A;\nexport const b = process['env'];\nconst { env } = process;",
      'src/config.ts': 'export const c = process.env.C;',
      'src/a/x.test.ts': 'export const t = process.env.T;',
    })).toEqual(['process-env', 'process-env', 'process-env']);
  });
});

describe('src/', () => {
  it('keeps the import boundaries', () => {
    const found = checkImports(sourcesUnder('src')).map(show).sort();
    expect(found).toEqual([]);
  });
});

describe('the build (tsconfig.build.json)', () => {
  it('ships no test harness and no test in dist/', () => {
    const configPath = join(ROOT, 'tsconfig.build.json');
    const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
    // The files the compiler would emit: the roots and everything they import, transitively.
    const program = ts.createProgram({ rootNames: parsed.fileNames, options: { ...parsed.options, noEmit: true } });
    const emitted = program
      .getSourceFiles()
      .map((f) => relative(ROOT, f.fileName))
      .filter((f) => f.startsWith('src/'));
    expect(emitted.length).toBeGreaterThan(100);
    expect(emitted.filter((f) => isHarness(f) || /\.test\.tsx?$/.test(f))).toEqual([]);
  });
});
