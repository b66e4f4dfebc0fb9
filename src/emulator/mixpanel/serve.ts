/**
 * Runs the whole Mixpanel emulator on a port: ingestion, engage query API, webhook sender and the
 * control endpoints. Used by `rivulet mixpanel-emulator` and by tests or scripts that want the
 * emulator as a library.
 */
import type { FastifyInstance } from 'fastify';
import { buildMixpanelEmulator, type MixpanelEmulatorAppOptions } from './app.js';
import type { CohortEmulator } from './cohort-emulator.js';
import type { MixpanelEmulator } from './emulator.js';

export interface StartMixpanelEmulatorOptions extends MixpanelEmulatorAppOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
}

export interface RunningMixpanelEmulator {
  /** Base URL, e.g. `http://127.0.0.1:4000`: the ingestion and the query host at once. */
  url: string;
  app: FastifyInstance;
  emulator: MixpanelEmulator;
  cohorts: CohortEmulator;
  close(): Promise<void>;
}

export async function startMixpanelEmulator(options: StartMixpanelEmulatorOptions = {}): Promise<RunningMixpanelEmulator> {
  const { port = 0, host = '127.0.0.1', ...appOptions } = options;
  const built = buildMixpanelEmulator(appOptions);
  await built.app.listen({ port, host });
  const address = built.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the emulator is not listening on a TCP port');
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `http://${urlHost}:${address.port}`, ...built, close: () => built.app.close() };
}
