/**
 * Identity owns its tables (issue 16 §3): no statement on users, aliases, devices or event
 * statistics outside src/identity/. Other capabilities call identity's functions; segments read
 * through identity's views (migration 020). Tests and test support (which seed and count rows
 * directly) are not production code and are left out.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('..', import.meta.url));
const TABLES = ['users', 'user_aliases', 'user_devices', 'user_event_stats'];
const STATEMENT = new RegExp(`\\b(FROM|JOIN|INTO|UPDATE|TABLE)\\s+(ONLY\\s+)?(${TABLES.join('|')})\\b`);

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'test-support' || entry.name === 'node_modules' || entry.name === 'app') continue;
      out.push(...(await sources(path)));
    } else if (/\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) && entry.name !== 'testing.ts') out.push(path);
  }
  return out;
}

describe('identity owns the statements on its tables', () => {
  it('finds SQL on users, user_aliases, user_devices and user_event_stats only under src/identity/', async () => {
    const offenders: string[] = [];
    for (const file of await sources(SRC)) {
      const rel = relative(SRC, file);
      if (rel.startsWith('identity/')) continue;
      (await readFile(file, 'utf8')).split('\n').forEach((line, i) => {
        if (STATEMENT.test(line)) offenders.push(`src/${rel}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });
});
