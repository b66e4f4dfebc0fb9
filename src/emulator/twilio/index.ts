/**
 * The Twilio emulator: Twilio's Messages API with its validation, errors and signed status
 * callbacks, for tests, benches and local work (docs/reference/twilio-emulator.md).
 * `rivulet twilio-emulator` runs it.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildTwilioApp } from './app.js';
import { TwilioStore } from './store.js';

export { TwilioStore, type CallbackRecord, type EmulatedMessage, type FaultRule } from './store.js';
export { signTwilio, statusPath } from './callbacks.js';
export { validateSend, twilioError } from './validation.js';

export interface StartTwilioEmulatorOptions {
  host?: string;
  /** 0 picks a free port (the default). */
  port?: number;
  /** Accounts it accepts: account SID → auth token. */
  accounts?: Record<string, string>;
  latencyMs?: number;
}

export interface RunningTwilioEmulator {
  /** Base URL, to give Rivulet as the provider's `base_url`. */
  url: string;
  store: TwilioStore;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startTwilioEmulator(opts: StartTwilioEmulatorOptions = {}): Promise<RunningTwilioEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const store = new TwilioStore();
  for (const [sidValue, token] of Object.entries(opts.accounts ?? {})) store.accounts.set(sidValue, token);
  if (opts.latencyMs !== undefined) store.latencyMs = opts.latencyMs;
  const { app, stop } = buildTwilioApp(store);
  await app.listen({ port: opts.port ?? 0, host });
  const port = (app.server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    store,
    app,
    async close() {
      stop();
      await app.close();
    },
  };
}
