/**
 * The embedded store on a data dir, run in a worker thread (pglite-worker.ts) so that a blocked
 * backend (a full disk under the WAL blocks PGlite inside WebAssembly, for good) never blocks the
 * server: requests still get answers, `/readyz` says not-ready and SIGTERM still ends the process.
 *
 * Every call is one message; the thread runs them in arrival order. A transaction holds the gate
 * from its BEGIN to its COMMIT/ROLLBACK so that no other call's statements land inside it.
 *
 * Failure handling (docs/reliability.md, "full disk"):
 * - a call that has not returned within `callTimeoutMs` is answered with `StoreUnavailableError`
 *   and marks the store `stuck`: from then on calls fail at once, until every call handed to the
 *   thread has returned (if it ever does);
 * - while the filesystem under the data dir (or its `pg_wal`) has less than `minFreeBytes` free,
 *   writes are refused before reaching PGlite (`lowSpace`), so the common case never blocks it;
 *   reads (statements that start with SELECT/SHOW and lock or change nothing) still run.
 */
import { statfs } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Db, NotificationHandlers, Queryable, QueryResult, Subscription } from './db.js';
import { StoreHealth, StoreUnavailableError } from './health.js';
import type { SerializedError, WorkerReply, WorkerRequest } from './pglite-worker.js';

export interface PgliteThreadOptions {
  /** A call not answered within this many ms marks the store stuck and is answered with a 503. */
  callTimeoutMs: number;
  /** Writes are refused while the data dir's filesystem has less free space than this (0: never). */
  minFreeBytes: number;
  /** How often free space is checked. */
  spaceCheckMs?: number;
}

type Body = { op: 'query'; sql: string; params?: unknown[] } | { op: 'exec'; sql: string } | { op: 'listen'; channel: string; subscription: number } | { op: 'unlisten'; subscription: number } | { op: 'close' };

const READ_ONLY = /^\s*(select|show)\b/i;
const WRITES_OR_LOCKS = /\b(insert|update|delete|into|nextval|setval|pg_advisory\w*|pg_notify|set_config)\b|\bfor\s+(no\s+key\s+)?update\b|\bfor\s+(key\s+)?share\b/i;

/** True when `sql` only reads (runs while the disk is full). */
export function isReadOnlyStatement(sql: string): boolean {
  return READ_ONLY.test(sql) && !WRITES_OR_LOCKS.test(sql);
}

function toError(e: SerializedError): Error {
  const err = new Error(e.message);
  for (const [k, v] of Object.entries(e)) if (k !== 'message' && k !== 'stack') (err as unknown as Record<string, unknown>)[k] = v;
  return err;
}

/**
 * Starts the thread. Built (`dist/`), it runs pglite-worker.js; from source (tsx, vitest) a small
 * bootstrap registers tsx's loader in the thread first (threads do not inherit it).
 */
function startWorker(dataDir: string): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./pglite-worker.js', import.meta.url), { workerData: { dataDir } });
  const entry = new URL('./pglite-worker.ts', import.meta.url).href;
  const tsx =
    typeof import.meta.resolve === 'function'
      ? import.meta.resolve('tsx/esm/api')
      : new URL('dist/esm/api/index.mjs', pathToFileURL(createRequire(import.meta.url).resolve('tsx/package.json'))).href;
  const bootstrap = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: { dataDir } });
}

/** A FIFO gate: one holder at a time; waiters are failed at once when the store becomes unusable. */
class Gate {
  private held = false;
  private readonly waiters: Array<{ grant(): void; fail(err: Error): void }> = [];

  enter(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((grant, fail) => this.waiters.push({ grant, fail }));
  }

  leave(): void {
    const next = this.waiters.shift();
    if (next) next.grant();
    else this.held = false;
  }

  failWaiters(err: Error): void {
    for (const w of this.waiters.splice(0)) w.fail(err);
  }
}

export interface PgliteThreadDb extends Db {
  readonly health: StoreHealth;
}

export async function openPgliteThread(dataDir: string, opts: PgliteThreadOptions): Promise<PgliteThreadDb> {
  const worker = startWorker(dataDir);
  const health = new StoreHealth();
  const gate = new Gate();
  const pending = new Map<number, { resolve(r: WorkerReply & { type: 'reply' }): void; sentAt: number }>();
  const subscriptions = new Map<number, NotificationHandlers>();
  let nextId = 1;
  let closed = false;
  let exited = false;

  await new Promise<void>((resolve, reject) => {
    const onMessage = (m: WorkerReply) => {
      if (m.type === 'ready') {
        worker.off('message', onMessage);
        resolve();
      } else if (m.type === 'open-failed') {
        worker.off('message', onMessage);
        reject(toError(m.error));
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the embedded store's thread exited (code ${code}) while opening ${dataDir}`)));
  });

  worker.on('message', (m: WorkerReply) => {
    if (m.type === 'notify') subscriptions.get(m.subscription)?.onNotify(m.payload);
    else if (m.type === 'reply') {
      const p = pending.get(m.id);
      pending.delete(m.id);
      p?.resolve(m);
      if (pending.size === 0) health.clear('stuck');
    }
  });
  worker.on('error', () => {});
  worker.on('exit', () => {
    exited = true;
    if (closed) return;
    health.set('stuck', "the embedded store's thread ended");
    gate.failWaiters(health.refusal());
  });

  const markStuck = (ms: number) => {
    health.set('stuck', `a store call has not returned for ${Math.round(ms / 1000)} s (is the disk under ${dataDir} full or its WAL unwritable?)`);
    gate.failWaiters(health.refusal());
  };
  const watchdog = setInterval(() => {
    const now = Date.now();
    for (const p of pending.values()) if (now - p.sentAt > opts.callTimeoutMs) return markStuck(now - p.sentAt);
  }, Math.max(50, Math.min(1000, opts.callTimeoutMs / 4)));
  watchdog.unref();

  /** Sends one message; rejects after the call timeout (the thread may still run it later). */
  const send = (body: Body, always = false): Promise<{ rows?: unknown[]; rowCount?: number }> => {
    if (exited) return Promise.reject(health.refusal());
    // COMMIT and ROLLBACK are always handed over, so a transaction never stays open in the thread.
    if (health.has('stuck') && !always) return Promise.reject(health.refusal());
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        markStuck(opts.callTimeoutMs);
        reject(new StoreUnavailableError(`the store did not answer within ${opts.callTimeoutMs} ms`));
      }, opts.callTimeoutMs);
      pending.set(id, {
        sentAt: Date.now(),
        resolve(r) {
          clearTimeout(timer);
          if (r.ok) resolve(r);
          else {
            const err = toError(r.error);
            health.noteError(err);
            reject(err);
          }
        },
      });
      worker.postMessage({ id, ...body } as WorkerRequest);
    });
  };

  const ensureOpen = () => {
    if (closed) throw Object.assign(new Error('PGlite is closed'), { code: '57P01' });
  };
  const checkWrite = (sql: string) => {
    if (!health.writable && !isReadOnlyStatement(sql)) throw health.refusal();
  };

  // Inside a transaction the gate is already held.
  const inTx: Queryable = {
    async query<Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
      ensureOpen();
      const r = await send({ op: 'query', sql, params: params as unknown[] | undefined });
      return { rows: (r.rows ?? []) as Row[], rowCount: r.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      ensureOpen();
      await send({ op: 'exec', sql });
    },
  };
  const withGate = async <T>(fn: () => Promise<T>): Promise<T> => {
    await gate.enter();
    try {
      return await fn();
    } finally {
      gate.leave();
    }
  };

  // Free space under the data dir and under its WAL (which may be another mount).
  let stopSpace = () => {};
  if (opts.minFreeBytes > 0) {
    const check = async () => {
      let free = Infinity;
      for (const dir of [dataDir, `${dataDir}/pg_wal`]) {
        try {
          const s = await statfs(dir);
          free = Math.min(free, s.bavail * s.bsize);
        } catch {
          /* not there yet */
        }
      }
      if (free < opts.minFreeBytes) {
        // Calls already waiting are checked when their turn comes: reads among them still run.
        health.set('lowSpace', `the disk under ${dataDir} is full (${Math.floor(free / 1048576)} MiB free, at least ${Math.ceil(opts.minFreeBytes / 1048576)} MiB needed)`);
      } else health.clear('lowSpace');
    };
    await check();
    const timer = setInterval(() => void check(), opts.spaceCheckMs ?? 1000);
    timer.unref();
    stopSpace = () => clearInterval(timer);
  }

  let nextSubscription = 1;
  return {
    kind: 'pglite',
    health,
    query<Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
      return withGate(async () => {
        checkWrite(sql);
        return inTx.query<Row>(sql, params);
      });
    },
    exec(sql: string): Promise<void> {
      return withGate(async () => {
        checkWrite(sql);
        return inTx.exec(sql);
      });
    },
    transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      return withGate(async () => {
        ensureOpen();
        if (!health.writable) throw health.refusal();
        await send({ op: 'exec', sql: 'BEGIN' });
        let result: T;
        try {
          result = await work(inTx);
        } catch (err) {
          // Sent before the gate opens, so it runs before any later call even if it is slow.
          await send({ op: 'exec', sql: 'ROLLBACK' }, true).catch(() => {});
          throw err;
        }
        await send({ op: 'exec', sql: 'COMMIT' }, true);
        return result;
      });
    },
    async listen(channel: string, handlers: NotificationHandlers): Promise<Subscription> {
      const subscription = nextSubscription++;
      subscriptions.set(subscription, handlers);
      await withGate(() => send({ op: 'listen', channel, subscription }));
      handlers.onConnectionChange?.(true);
      return {
        async close() {
          if (!subscriptions.delete(subscription) || closed) return;
          await withGate(() => send({ op: 'unlisten', subscription })).catch(() => {});
        },
      };
    },
    async close() {
      if (closed) return;
      stopSpace();
      clearInterval(watchdog);
      if (!exited && !health.has('stuck')) {
        await withGate(() => send({ op: 'close' })).catch(() => {});
      }
      closed = true;
      subscriptions.clear();
      // A blocked thread is ended: what it had acknowledged is in the WAL; recovery replays it at the next start.
      await worker.terminate();
    },
  };
}
