/**
 * Canvases: multi-step journeys (entry, messages, delays, paths, exits) run durably on rows in
 * PostgreSQL, with every moment on the event log (docs/reference/canvases.md).
 */
import type { FastifyInstance } from 'fastify';
import { SmtpTransports } from '../channels/index.js';
import type { Config } from '../config.js';
import type { CapabilityPlugin } from '../http/index.js';
import type { SecretBox } from '../secrets/index.js';
import { SegmentEvaluator } from '../segments/index.js';
import type { Db } from '../storage/index.js';
import type { CanvasDefinition } from './definition.js';
import type { EngineDeps } from './engine.js';
import { canvasDashboardRoutes } from './dashboard-routes.js';
import { canvasRoutes } from './routes.js';
import { versionDefinition } from './store.js';
import { CanvasWorker, DEFAULT_CANVAS_TIMING, type CanvasWorkerTiming } from './worker.js';

export { checkCanvasBody, type CanvasDefinition, type CanvasInput } from './definition.js';
export { CanvasWorker, type CanvasWorkerTiming } from './worker.js';
export * as CanvasesContract from './contract.js';
export type { EngineDeps } from './engine.js';

export interface Canvases {
  routes: CapabilityPlugin[];
  startWorkers(app: FastifyInstance): () => Promise<void>;
}

export interface CanvasOptions {
  timing?: Partial<CanvasWorkerTiming>;
  /** The clock of due times (tests only). */
  now?: () => number;
}

/** The engine's dependencies on the rest of Rivulet (also used by tests and the benchmark). */
export function canvasEngineDeps(db: Db, config: Config, box: SecretBox, transports: SmtpTransports, now: () => number): EngineDeps {
  const evaluator = new SegmentEvaluator(db, { cacheBytes: 32 * 1024 * 1024 });
  const secrets = new Map<string, Buffer>();
  const defs = new Map<string, CanvasDefinition>();
  const names = new Map<string, string>();
  return {
    db,
    now,
    smtp: { url: config.messaging.smtpUrl ?? 'smtp://127.0.0.1:25', maxConnections: config.messaging.smtpConnections },
    sendEmail: (settings, email) => transports.send(settings, email),
    publicUrl: config.publicUrl,
    // The campaigns' key: the email channel's open, click and unsubscribe links verify with it.
    trackingSecret: (ws) => {
      let s = secrets.get(ws);
      if (!s) secrets.set(ws, (s = box.deriveKey(`email-tracking:${ws}`)));
      return s;
    },
    members: (ws, filter, nowMs) => evaluator.members(ws, filter, nowMs),
    // A version never changes once launched, so it is cached for good.
    definition: async (canvasId, version) => {
      const key = `${canvasId}:${version}`;
      let d = defs.get(key);
      if (!d) {
        d = await versionDefinition(db, canvasId, version);
        if (!d) return undefined;
        if (defs.size > 5000) defs.clear();
        defs.set(key, d);
      }
      return d;
    },
    canvasName: async (canvasId) => {
      let n = names.get(canvasId);
      if (n === undefined) {
        const { rows } = await db.query<{ name: string }>(`SELECT name FROM canvases WHERE id = $1`, [canvasId]);
        names.set(canvasId, (n = rows[0]?.name ?? canvasId));
      }
      return n;
    },
  };
}

export async function createCanvases(db: Db, config: Config, box: SecretBox, opts: CanvasOptions = {}): Promise<Canvases> {
  const now = opts.now ?? Date.now;
  const transports = new SmtpTransports();
  const deps = canvasEngineDeps(db, config, box, transports, now);
  let worker: CanvasWorker | undefined;
  return {
    routes: [canvasRoutes({ db, now, wake: () => worker?.wake(), members: deps.members }), canvasDashboardRoutes({ db, now, members: deps.members })],
    startWorkers(app) {
      worker = new CanvasWorker(deps, { ...DEFAULT_CANVAS_TIMING, pollMs: config.messaging.sendPollMs, leaseMs: config.messaging.sendLeaseMs, ...opts.timing }, (err) => app.log.error({ err }, 'canvas step failed'));
      worker.start();
      return async () => {
        await worker?.stop();
        transports.close();
      };
    },
  };
}
