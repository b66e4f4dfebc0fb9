/**
 * What the message modules (cards.ts, in-app.ts) need from the SDK's entry: logging an event into
 * the upload queue, uploading now, and reading an SDK route for this device. Handed to them by
 * index.ts, so they do not import it.
 */
import type { QueuedEvent } from './queue.js';

export interface SdkCore {
  /** Marks activity and queues an event for upload. */
  log(type: QueuedEvent['type'], fields: Record<string, unknown>): void;
  /** Uploads the queue now; `keepalive` when the page may be leaving. */
  flush(keepalive?: boolean): Promise<void>;
  /** GET `/sdk/v1/<path>?device_id=…` with the SDK key; the parsed body, or an Error with the status. */
  get(path: string): Promise<unknown>;
  warn(message: string, detail?: unknown): void;
  storage(): Storage;
}

export class SdkRequestError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`rivulet: request failed with ${status}`);
  }
}

/** Reads a device-scoped route; when the device is not known yet (its session not uploaded), uploads and tries again. */
export async function getForDevice(core: SdkCore, path: string): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await core.get(path);
    } catch (err) {
      if (!(err instanceof SdkRequestError) || err.status !== 404 || attempt >= 4) throw err;
      await core.flush();
      await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
    }
  }
}

/** A set of ids kept in localStorage (bounded), e.g. the cards this device dismissed. */
export function storedIds(storage: () => Storage, key: string, max = 500) {
  const read = (): string[] => {
    try {
      const v: unknown = JSON.parse(storage().getItem(key) ?? '[]');
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  };
  return {
    has: (id: string) => read().includes(id),
    add(id: string) {
      const ids = read().filter((x) => x !== id);
      ids.push(id);
      try {
        storage().setItem(key, JSON.stringify(ids.slice(-max)));
      } catch {
        /* storage full or disabled */
      }
    },
  };
}
