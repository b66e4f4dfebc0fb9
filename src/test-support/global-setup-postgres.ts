/**
 * Vitest global set-up of the postgres project: makes the migrated template database every
 * migrated test database is copied from (see db.ts), once, before the test processes start.
 */
import { postgresTemplate } from './db.js';

export default async function setup(): Promise<void> {
  const started = Date.now();
  await postgresTemplate();
  const ms = Date.now() - started;
  if (ms > 2000) process.stdout.write(`PostgreSQL template database made in ${(ms / 1000).toFixed(1)} s\n`);
}
