/**
 * Rewrites, in production files under src/, every import of another capability's internals
 * (`../http/errors.js`) to that capability's front door (`../http/index.js`), the rule of
 * docs/architecture.md#boundaries. Only the module path changes; the imported names stay, so a
 * name the index does not export yet shows up in `npm run typecheck` (export it from the index).
 *
 *   npx tsx scripts/front-door-imports.ts          # rewrite, print the files changed
 *   npx tsx scripts/front-door-imports.ts --check  # print only
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { capabilityOf, isFrontDoor, isHarness, isProduction, resolveImport } from '../test/architecture/import-rules.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(join(ROOT, dir))) {
    const path = `${dir}/${entry}`;
    if (statSync(join(ROOT, path)).isDirectory()) {
      if (path !== 'src/web/app' && entry !== 'node_modules') walk(path, out);
    } else if (/\.tsx?$/.test(entry)) out.push(path);
  }
  return out;
}

const files = walk('src');
const known = new Set(files);
let changed = 0;
for (const file of files.filter(isProduction)) {
  const source = readFileSync(join(ROOT, file), 'utf8');
  const next = source.replace(/((?:from|import)\s*\(?\s*')(\.[^']+)(')/g, (whole, before: string, spec: string, after: string) => {
    const to = resolveImport(file, spec, known);
    const cap = to ? capabilityOf(to) : null;
    if (!to || !cap || cap === capabilityOf(file) || isFrontDoor(to) || isHarness(to)) return whole;
    let rel = posix.relative(dirname(file), `src/${cap}/index.js`);
    if (!rel.startsWith('.')) rel = `./${rel}`;
    return `${before}${rel}${after}`;
  });
  if (next !== source) {
    changed++;
    console.log(relative(ROOT, join(ROOT, file)));
    if (!check) writeFileSync(join(ROOT, file), next);
  }
}
if (check && changed > 0) process.exitCode = 1;
