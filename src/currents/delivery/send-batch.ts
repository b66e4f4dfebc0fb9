/**
 * Drives one batch to an outcome under the retry rules of docs/reference/currents.md §3: every event ends sent
 * or dead-lettered, and nothing else ends a batch but an abort (shutdown), after which the batch
 * is re-sent from the log on the next start. Splits on 413 and on a 400 without `failed_records`,
 * dead-letters only the `failed_records` of a 400, waits behind the auth gate while the connector
 * is failed, and backs off with jitter on transient failures. Every delay goes through `delayScale`.
 */
import { joinBatch } from '../mixpanel/batching.js';
import type { MixpanelEvent } from '../mixpanel/mapping.js';
import type { DeadLetterInput } from './dead-letters.js';
import type { HealthTracker } from './health.js';
import { backoffMs, judge, locateFailedRecords, type FailedRecord, type ImportAnswer, type Verdict } from './retry-policy.js';
import { sleep } from './waiting.js';

/** One event on its way: the log event it came from and its Mixpanel form, serialized (`bytes` of UTF-8). */
export interface Deliverable {
  eventId: string;
  eventType: string;
  insertId: string;
  json: string;
  bytes: number;
}

export function deliverable(eventId: string, eventType: string, event: MixpanelEvent): Deliverable {
  const json = JSON.stringify(event);
  return { eventId, eventType, insertId: String(event.properties['$insert_id']), json, bytes: Buffer.byteLength(json) };
}

type Utf8Write = (this: Buffer, text: string, offset: number) => number;
/** Node's own `utf8Write` where it has one (a third cheaper than `write` for short strings), else `write`. */
const utf8Write: Utf8Write =
  (Buffer.prototype as unknown as { utf8Write?: Utf8Write }).utf8Write ??
  function (this: Buffer, text: string, offset: number) {
    return this.write(text, offset, 'utf8');
  };

/**
 * A Deliverable whose text moves into its batch's body when the body is packed (`packBody`): a
 * queued batch then holds its events' text once, as bytes outside the JS heap, and each event's
 * string dies young. `json` reads the text back from the body (splits and dead letters only).
 */
export class PackedDeliverable implements Deliverable {
  private text: string | null;
  private body: Buffer | null = null;
  private start = 0;

  constructor(
    readonly eventId: string,
    readonly eventType: string,
    readonly insertId: string,
    json: string,
    readonly bytes: number,
  ) {
    this.text = json;
  }

  get json(): string {
    return this.text ?? this.body!.toString('utf8', this.start, this.start + this.bytes);
  }

  /** Writes the text into `body` at `at`; returns the bytes written. */
  pack(body: Buffer, at: number): number {
    const written = utf8Write.call(body, this.text!, at);
    if (written !== this.bytes) throw new Error(`packing a batch: ${written} bytes written for an event of ${this.bytes}`);
    this.body = body;
    this.start = at;
    this.text = null;
    return written;
  }
}

/**
 * The JSON-array body of `items` as UTF-8 bytes: the body `joinBatch(items)` would encode, written
 * item by item into one buffer of `bytes` (the batch's size from `batchSerialized`). Each item then
 * reads its text from the body.
 */
export function packBody(items: readonly PackedDeliverable[], bytes: number): Buffer {
  const body = Buffer.allocUnsafe(bytes);
  let at = 0;
  body[at++] = 0x5b; // [
  for (let i = 0; i < items.length; i++) {
    if (i > 0) body[at++] = 0x2c; // ,
    at += items[i]!.pack(body, at);
  }
  body[at++] = 0x5d; // ]
  if (at !== bytes) throw new Error(`packing a batch: ${at} bytes for a batch of ${bytes}`);
  return body;
}

export interface BatchResult {
  sent: Deliverable[];
  deadLetters: DeadLetterInput[];
}

export interface SendEnvironment {
  /** Sends one JSON-array body (text, or its UTF-8 bytes from `packBody`). */
  send(body: string | Buffer, signal: AbortSignal): Promise<ImportAnswer>;
  health: HealthTracker;
  delayScale: number;
  authRetryMs: number;
  signal: AbortSignal;
  random?: () => number;
  now?: () => number;
  /** Called for every answer that makes the same events go out again (auth or transient). */
  onRetry?: (verdict: Verdict & { action: 'auth' | 'transient' }) => void;
  /** Called when a 400 names a failed record that matches no event of the batch. */
  onUnlocatedRecords?: (records: FailedRecord[]) => void;
}

function deadLetter(item: Deliverable, reason: string, field: string | null, message: string | null): DeadLetterInput {
  return { eventId: item.eventId, eventType: item.eventType, insertId: item.insertId, reason, field, message, event: JSON.parse(item.json) as MixpanelEvent };
}

/**
 * Sends `items` as one `/import` request (and halves of it, when the rules say split). `body`, when
 * given, is `joinBatch(items)` already built (or its bytes, `packBody`).
 */
export async function deliverBatch(items: Deliverable[], env: SendEnvironment, body?: string | Buffer): Promise<BatchResult> {
  const token = {};
  try {
    return await deliver(items, env, token, body);
  } finally {
    env.health.release(token);
  }
}

async function deliver(items: Deliverable[], env: SendEnvironment, token: object, body?: string | Buffer): Promise<BatchResult> {
  const now = env.now ?? Date.now;
  const random = env.random ?? Math.random;
  let attempt = 0;
  for (;;) {
    const epoch = await env.health.ready(token, env.signal);
    const answer = await env.send(body ?? joinBatch(items), env.signal);
    const verdict = judge(answer, now());
    switch (verdict.action) {
      case 'ack':
        env.health.success(epoch);
        return { sent: items, deadLetters: [] };

      case 'partial': {
        env.health.success(epoch);
        const { located, unlocated } = locateFailedRecords(
          items.map((i) => i.insertId),
          verdict.failed,
        );
        if (unlocated.length > 0) env.onUnlocatedRecords?.(unlocated);
        const sent: Deliverable[] = [];
        const deadLetters: DeadLetterInput[] = [];
        items.forEach((item, i) => {
          const failed = located.get(i);
          if (failed) deadLetters.push(deadLetter(item, 'failed_record', failed.field, failed.message));
          else sent.push(item);
        });
        return { sent, deadLetters };
      }

      case 'split': {
        env.health.success(epoch);
        if (items.length === 1) {
          const reason = verdict.reason === 'too_large' ? 'too_large' : `rejected: HTTP ${verdict.status}`;
          return { sent: [], deadLetters: [deadLetter(items[0]!, reason, null, verdict.detail)] };
        }
        const middle = Math.ceil(items.length / 2);
        const halves = [items.slice(0, middle), items.slice(middle)];
        const result: BatchResult = { sent: [], deadLetters: [] };
        for (const half of halves) {
          const r = await deliver(half, env, token);
          result.sent.push(...r.sent);
          result.deadLetters.push(...r.deadLetters);
        }
        return result;
      }

      case 'auth': {
        attempt += 1;
        env.onRetry?.(verdict);
        const role = env.health.authFailure(token, epoch, verdict.detail);
        if (role === 'probe') await sleep(env.authRetryMs * env.delayScale, env.signal);
        break;
      }

      case 'transient': {
        attempt += 1;
        env.onRetry?.(verdict);
        env.health.transientFailure(verdict.detail);
        const delay = verdict.retryAfterMs ?? backoffMs(attempt, random);
        await sleep(delay * env.delayScale, env.signal);
        break;
      }
    }
  }
}
