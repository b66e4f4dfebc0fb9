/**
 * The embedded store's thread (see pglite-thread.ts): opens PGlite on `workerData.dataDir` and runs
 * the messages it gets strictly one after another, in arrival order, answering each by its id.
 * PGlite's backend runs synchronously in WebAssembly: when it blocks (a WAL that cannot grow), only
 * this thread stops; the server's thread keeps answering and can end the process.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, types as pgliteTypes } from '@electric-sql/pglite';

export type WorkerRequest =
  | { id: number; op: 'query'; sql: string; params?: unknown[] }
  | { id: number; op: 'exec'; sql: string }
  | { id: number; op: 'listen'; channel: string; subscription: number }
  | { id: number; op: 'unlisten'; subscription: number }
  | { id: number; op: 'close' };

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'open-failed'; error: SerializedError }
  | { type: 'reply'; id: number; ok: true; rows?: unknown[]; rowCount?: number }
  | { type: 'reply'; id: number; ok: false; error: SerializedError }
  | { type: 'notify'; subscription: number; payload: string };

export type SerializedError = Record<string, unknown> & { message: string };

/** An error as plain data (structured clone drops an Error's own properties such as `code`). */
export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { message: String(err) };
  const out: SerializedError = { message: err.message, name: err.name };
  for (const [k, v] of Object.entries(err)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  }
  return out;
}

const port = parentPort;
if (port) {
  const { dataDir } = workerData as { dataDir: string };
  let db: PGlite;
  try {
    db = await PGlite.create({
      dataDir,
      parsers: {
        [pgliteTypes.INT8]: (v: string) => Number(v),
        [pgliteTypes.NUMERIC]: (v: string) => Number(v),
      },
    });
    port.postMessage({ type: 'ready' } satisfies WorkerReply);
  } catch (err) {
    port.postMessage({ type: 'open-failed', error: serializeError(err) } satisfies WorkerReply);
    throw err;
  }
  const unlisteners = new Map<number, () => Promise<void>>();
  const run = async (m: WorkerRequest): Promise<WorkerReply> => {
    switch (m.op) {
      case 'query': {
        const res = await db.query(m.sql, m.params);
        return { type: 'reply', id: m.id, ok: true, rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
      }
      case 'exec':
        await db.exec(m.sql);
        return { type: 'reply', id: m.id, ok: true };
      case 'listen': {
        const unlisten = await db.listen(m.channel, (payload) => port.postMessage({ type: 'notify', subscription: m.subscription, payload } satisfies WorkerReply));
        unlisteners.set(m.subscription, unlisten);
        return { type: 'reply', id: m.id, ok: true };
      }
      case 'unlisten':
        await unlisteners.get(m.subscription)?.();
        unlisteners.delete(m.subscription);
        return { type: 'reply', id: m.id, ok: true };
      case 'close':
        await db.close();
        return { type: 'reply', id: m.id, ok: true };
    }
  };
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (m: WorkerRequest) => {
    chain = chain.then(async () => {
      let reply: WorkerReply;
      try {
        reply = await run(m);
      } catch (err) {
        reply = { type: 'reply', id: m.id, ok: false, error: serializeError(err) };
      }
      port.postMessage(reply);
    });
  });
}
