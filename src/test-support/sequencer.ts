/**
 * Orders the test files of both projects longest first, so that the slowest files start at once and
 * the short ones fill the workers at the end: a long file that starts last would be the run's tail.
 *
 * The durations come from the last run on this machine (test-results/durations.json, written by
 * summary-reporter.ts) or, in a fresh clone, from the recorded ones (src/test-support/durations.json,
 * refreshed with `npm run test:durations` after a full run). A file in neither is estimated from
 * what it starts (`estimate`). Vitest's own order (without this) runs all of the pglite project first,
 * largest file first: the postgres project's slow files then ran last.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { DURATIONS_PATH } from './summary-reporter.js';

/** `<project>:<file>` → wall ms. */
type Durations = Record<string, number>;

export const RECORDED_DURATIONS_PATH = 'src/test-support/durations.json';

function read(path: string): Durations {
  if (!existsSync(path)) return {};
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { files?: Array<{ key: string; wallMs: number }> } | Durations;
    if (Array.isArray(parsed.files)) return Object.fromEntries(parsed.files.map((f) => [f.key, f.wallMs]));
    return parsed as Durations;
  } catch {
    return {};
  }
}

/**
 * A guess for a file with no recorded duration (ms), from what it starts: child processes (the
 * `rivulet` command, Chromium) cost the most, then a store on PGlite, a PostgreSQL database, nothing.
 */
function estimate(key: string, path: string): number {
  let source = '';
  try {
    source = readFileSync(path, 'utf8');
  } catch {
    /* unreadable: judged by its name alone */
  }
  const db = key.endsWith('.db.test.ts');
  const pglite = key.startsWith('pglite:');
  if (/cli-process\.js|browser\.js/.test(source)) return pglite ? 45_000 : 30_000;
  if (db && pglite) return /startTestServer|fast-check/.test(source) ? 20_000 : 12_000;
  if (db) return 8_000;
  return 3_000;
}

export default class LongestFirstSequencer extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    // The last local run first; the recorded durations fill in what it lacks (a focused run).
    const durations = { ...read(join(root, RECORDED_DURATIONS_PATH)), ...read(join(root, DURATIONS_PATH)) };
    const cost = (spec: TestSpecification) => {
      const key = `${spec.project.name}:${relative(root, spec.moduleId)}`;
      return durations[key] ?? estimate(key, spec.moduleId);
    };
    return Promise.resolve([...files].sort((a, b) => cost(b) - cost(a)));
  }
}
