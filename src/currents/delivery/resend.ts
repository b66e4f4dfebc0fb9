/**
 * Re-sending dead letters on an operator's request (docs/reference/currents.md §3): the stored payload with the
 * connector's current token, the same `$insert_id`, the same retry rules, but within a time budget
 * because an operator is waiting. What gets through is marked `resent`; what fails again stays
 * dead with its new reason; what the budget cut off is left as it was. For live-origin letters the
 * counters move with them (dead_lettered −1, sent +1), so the accounting invariant still holds.
 */
import type { Db } from '../../storage/index.js';
import { batchSerialized, MAX_EVENTS_PER_BATCH } from '../mixpanel/batching.js';
import { fitToMixpanelLimits } from '../mixpanel/limits.js';
import type { Tally } from './ack-window.js';
import { upsertCounters } from './checkpoint.js';
import { recordDeadLetters, resendPayload, type DeadLetter } from './dead-letters.js';
import { HealthTracker } from './health.js';
import type { ImportAnswer } from './retry-policy.js';
import { deliverable, deliverBatch, type Deliverable } from './send-batch.js';

export interface ResendOptions {
  send: (body: string, signal: AbortSignal) => Promise<ImportAnswer>;
  token: string;
  batchByteCap: number;
  delayScale: number;
  authRetryMs: number;
  budgetMs: number;
}

export interface ResendReport {
  resent: number;
  failed_again: number;
  not_attempted: number;
  results: Array<{ id: number; event_id: string; outcome: 'resent' | 'failed_again' | 'not_attempted'; reason?: string }>;
}

export async function resendDeadLetters(db: Db, connectorId: string, letters: readonly DeadLetter[], opts: ResendOptions): Promise<ResendReport> {
  const byEventId = new Map(letters.map((l) => [l.event_id, l]));
  // Fitted to Mixpanel's limits: a letter stored before fitting existed (reason `invalid_for_mixpanel: …`) goes through now.
  const items: Deliverable[] = letters.map((l) => deliverable(l.event_id, l.event_type, fitToMixpanelLimits(resendPayload(l.payload, opts.token)).event));
  const signal = AbortSignal.timeout(opts.budgetMs);
  const health = new HealthTracker({ initial: 'ok', degradedAfterMs: Number.POSITIVE_INFINITY, persist: async () => {} });
  const report: ResendReport = { resent: 0, failed_again: 0, not_attempted: 0, results: [] };
  const done = new Set<string>();

  for (const batch of batchSerialized(items, { maxEvents: MAX_EVENTS_PER_BATCH, maxBytes: opts.batchByteCap })) {
    if (signal.aborted) break;
    let result;
    try {
      result = await deliverBatch(batch.items, { send: opts.send, health, delayScale: opts.delayScale, authRetryMs: opts.authRetryMs, signal });
    } catch {
      break; // out of time: the rest stays dead, untouched
    }
    const tallies: Tally[] = [];
    await db.transaction(async (tx) => {
      if (result.sent.length > 0) {
        await tx.query(
          `UPDATE currents_dead_letters SET state = 'resent', resent_at = now(), attempts = attempts + 1, last_attempt_at = now()
            WHERE connector_id = $1 AND event_id = ANY($2::text[])`,
          [connectorId, result.sent.map((s) => s.eventId)],
        );
      }
      for (const s of result.sent) {
        const letter = byEventId.get(s.eventId)!;
        if (letter.origin === 'live') {
          tallies.push({ outcome: 'dead_lettered', eventType: letter.event_type, reason: letter.reason, count: -1 });
          tallies.push({ outcome: 'sent', eventType: letter.event_type, reason: '', count: 1 });
        }
      }
      if (result.deadLetters.length > 0) {
        // An existing row keeps its origin: the upsert only refreshes reason, attempts and payload.
        await recordDeadLetters(tx, connectorId, 'live', result.deadLetters);
        for (const d of result.deadLetters) {
          const letter = byEventId.get(d.eventId)!;
          if (letter.origin === 'live' && letter.reason !== d.reason) {
            tallies.push({ outcome: 'dead_lettered', eventType: letter.event_type, reason: letter.reason, count: -1 });
            tallies.push({ outcome: 'dead_lettered', eventType: letter.event_type, reason: d.reason, count: 1 });
          }
        }
      }
      await upsertCounters(tx, connectorId, tallies);
    });
    for (const s of result.sent) {
      done.add(s.eventId);
      report.resent += 1;
      report.results.push({ id: byEventId.get(s.eventId)!.id, event_id: s.eventId, outcome: 'resent' });
    }
    for (const d of result.deadLetters) {
      done.add(d.eventId);
      report.failed_again += 1;
      report.results.push({ id: byEventId.get(d.eventId)!.id, event_id: d.eventId, outcome: 'failed_again', reason: d.reason });
    }
  }
  for (const l of letters) {
    if (done.has(l.event_id)) continue;
    report.not_attempted += 1;
    report.results.push({ id: l.id, event_id: l.event_id, outcome: 'not_attempted' });
  }
  report.results.sort((a, b) => a.id - b.id);
  return report;
}
