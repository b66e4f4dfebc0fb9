/**
 * Vitest global set-up of the pglite project: makes the PGlite templates (see db.ts) once, before
 * the test processes start, so that they do not all make them at once on a cold cache.
 */
import { ensurePgliteTemplates } from './db.js';

export default async function setup(): Promise<void> {
  const started = Date.now();
  await ensurePgliteTemplates();
  const ms = Date.now() - started;
  if (ms > 2000) process.stdout.write(`PGlite templates made in ${(ms / 1000).toFixed(1)} s (cached in node_modules/.cache/rivulet-test/)\n`);
}
