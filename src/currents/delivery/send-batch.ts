/**
 * Drives one batch to an outcome under the retry rules of currents.md §3: every event ends sent
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

export interface BatchResult {
  sent: Deliverable[];
  deadLetters: DeadLetterInput[];
}

export interface SendEnvironment {
  send(body: string, signal: AbortSignal): Promise<ImportAnswer>;
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
 * given, is `joinBatch(items)` already built (see `joinBatchInPlace`).
 */
export async function deliverBatch(items: Deliverable[], env: SendEnvironment, body?: string): Promise<BatchResult> {
  const token = {};
  try {
    return await deliver(items, env, token, body);
  } finally {
    env.health.release(token);
  }
}

async function deliver(items: Deliverable[], env: SendEnvironment, token: object, body?: string): Promise<BatchResult> {
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
