/**
 * Assembles the Mixpanel emulator as a Fastify app: the ingestion API (`/import`) and the control
 * endpoints (`/_emulator/`). Each API is its own plugin so that the engage query API and the
 * cohort webhook sender can be added beside them. The caller listens; nothing here opens a port.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { controlRoutes } from './control-routes.js';
import { MixpanelEmulator, type MixpanelEmulatorOptions } from './emulator.js';
import { importRoutes } from './import-route.js';

export interface MixpanelEmulatorAppOptions extends MixpanelEmulatorOptions {
  /** Fastify logging; off by default. */
  logger?: boolean;
}

export function buildMixpanelEmulator(options: MixpanelEmulatorAppOptions = {}): { app: FastifyInstance; emulator: MixpanelEmulator } {
  const { logger = false, ...emulatorOptions } = options;
  const emulator = new MixpanelEmulator(emulatorOptions);
  const app = Fastify({ logger, bodyLimit: 1024 * 1024 });
  void app.register(importRoutes, { emulator });
  void app.register(controlRoutes, { emulator });
  return { app, emulator };
}
