/**
 * The dashboard compiles against the server's contract modules: renaming a response field in a
 * contract (here `lag` of the Currents status, `connectors` of the connector page) must break
 * `tsc -p src/web/app/tsconfig.json`. Runs the real compiler on a copy of `src/` with the field
 * renamed; the unchanged tree is type-checked by the project's own typecheck step.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function typecheckWith(file: string, from: string, to: string): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'rivulet-contract-'));
  dirs.push(dir);
  await cp(join(root, 'src'), join(dir, 'src'), { recursive: true, filter: (p) => !p.includes(`${join('app', 'dist')}`) });
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const path = join(dir, file);
  const text = await readFile(path, 'utf8');
  expect(text).toContain(from);
  await writeFile(path, text.replace(from, to));
  try {
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'src/web/app/tsconfig.json')], { cwd: dir });
    return { ok: true, output: '' };
  } catch (err) {
    return { ok: false, output: String((err as { stdout?: string }).stdout ?? err) };
  }
}

describe('dashboard and server share one contract', () => {
  it('breaks the dashboard type check when a response field of a contract is renamed', async () => {
    const renamed = await typecheckWith('src/currents/contract.ts', '    lag: Type.Object({ events: Type.Integer(), seconds: Type.Number() }),\n    read:', '    lag_renamed: Type.Object({ events: Type.Integer(), seconds: Type.Number() }),\n    read:');
    expect(renamed.ok).toBe(false);
    expect(renamed.output).toMatch(/CurrentPage\.tsx.*Property 'lag' does not exist/s);
  }, 180_000);

  it('breaks it too when a page field is renamed', async () => {
    const renamed = await typecheckWith('src/currents/contract.ts', 'Type.Object({ connectors: Type.Array(ConnectorListItem)', 'Type.Object({ items: Type.Array(ConnectorListItem)');
    expect(renamed.ok).toBe(false);
    expect(renamed.output).toMatch(/Currents\.tsx.*Property 'connectors' does not exist/s);
  }, 180_000);
});
