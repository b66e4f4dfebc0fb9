/**
 * The push-service emulator: an RFC 8030 push service that hands out subscriptions as a browser's
 * push service would, verifies VAPID and decrypts what it receives, with faults and latency, for
 * tests and local work (docs/reference/push.md §5). `rivulet push-emulator` runs it.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildPushApp } from './app.js';
import { PushStore } from './store.js';

export { PushStore, type EmulatedSubscription, type PushFaultRule, type ReceivedMessage } from './store.js';
export { decryptAes128gcm, makeSubscriptionKeys, verifyVapid, DecryptError } from './crypto.js';

export interface StartPushEmulatorOptions {
  host?: string;
  /** 0 picks a free port (the default). */
  port?: number;
  latencyMs?: number;
}

export interface RunningPushEmulator {
  url: string;
  store: PushStore;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startPushEmulator(opts: StartPushEmulatorOptions = {}): Promise<RunningPushEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const store = new PushStore();
  if (opts.latencyMs !== undefined) store.latencyMs = opts.latencyMs;
  const app = buildPushApp(store);
  await app.listen({ port: opts.port ?? 0, host });
  const port = (app.server.address() as AddressInfo).port;
  store.origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { url: store.origin, store, app, close: () => app.close() };
}
