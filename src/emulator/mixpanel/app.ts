/**
 * Assembles the Mixpanel emulator as a Fastify app: the ingestion API (`/import`), the engage
 * query API (`/api/query/engage`, `/api/2.0/engage`, cohorts/list) and the control endpoints
 * (`/_emulator/`), including the cohort side's webhook sender. Each API is its own plugin. The
 * caller listens; nothing here opens a port.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { CohortEmulator, type CohortEmulatorOptions } from './cohort-emulator.js';
import { cohortControlRoutes } from './cohort-control-routes.js';
import { controlRoutes } from './control-routes.js';
import { MixpanelEmulator, type MixpanelEmulatorOptions } from './emulator.js';
import { engageRoutes } from './engage-route.js';
import { importRoutes } from './import-route.js';
import { importError } from './responses.js';

export interface MixpanelEmulatorAppOptions extends MixpanelEmulatorOptions {
  /** Fastify logging; off by default. */
  logger?: boolean;
  /** Engage query API and webhook sender settings (cohort side). */
  cohorts?: CohortEmulatorOptions;
}

export function buildMixpanelEmulator(options: MixpanelEmulatorAppOptions = {}): { app: FastifyInstance; emulator: MixpanelEmulator; cohorts: CohortEmulator } {
  const { logger = false, cohorts: cohortOptions = {}, ...emulatorOptions } = options;
  const emulator = new MixpanelEmulator(emulatorOptions);
  const cohorts = new CohortEmulator(emulator.registry, emulator.now, { seed: emulatorOptions.seed, ...cohortOptions });
  // Closing ends every connection, a client's kept-alive or half-read one included: an emulator that
  // waited for its clients would hold a test's teardown (or a demo's Ctrl-C) until they time out.
  const app = Fastify({ logger, bodyLimit: 1024 * 1024, forceCloseConnections: true });
  void app.register(importRoutes, { emulator });
  void app.register(controlRoutes, { emulator });
  void app.register(engageRoutes, { engage: cohorts.engage });
  void app.register(cohortControlRoutes, { cohorts });
  app.addHook('onClose', async () => cohorts.close());
  // An unknown route says only that: Fastify's default names the method and URL, whose query may
  // hold a credential (`api_key`) or events with the project token (`data`).
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(importError(404, 'not found')));
  return { app, emulator, cohorts };
}
