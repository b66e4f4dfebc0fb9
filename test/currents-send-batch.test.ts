/**
 * One batch under the retry rules, against a scripted `/import`: splits, partial failures, the auth
 * gate (one probe while failed, one notice per incident), transient backoff with scaled delays.
 */
import { describe, expect, it } from 'vitest';
import { HealthTracker, type HealthTransition } from '../src/currents/delivery/health.js';
import type { ImportAnswer } from '../src/currents/delivery/retry-policy.js';
import { deliverable, deliverBatch, packBody, PackedDeliverable, type Deliverable, type SendEnvironment } from '../src/currents/delivery/send-batch.js';
import { joinBatch } from '../src/currents/mixpanel/batching.js';

const items = (n: number, from = 0): Deliverable[] =>
  Array.from({ length: n }, (_, i) =>
    deliverable(`e${from + i}`, 'users.messages.email.Open', { event: 'Email Open', properties: { distinct_id: 'u', $insert_id: `ins-${from + i}`, time: 1_700_000_000, token: 't' } }),
  );

const ok = (n: number): ImportAnswer => ({ kind: 'response', status: 200, retryAfter: null, text: JSON.stringify({ code: 200, num_records_imported: n }) });
const status = (s: number, text = '', retryAfter: string | null = null): ImportAnswer => ({ kind: 'response', status: s, retryAfter, text });

function env(handler: (events: Array<{ properties: { $insert_id: string } }>) => ImportAnswer | Promise<ImportAnswer>, transitions: HealthTransition[] = []) {
  const sent: string[][] = [];
  const health = new HealthTracker({ initial: 'ok', degradedAfterMs: 50, persist: async (t) => void transitions.push(t) });
  const e: SendEnvironment & { sent: string[][] } = {
    sent,
    health,
    delayScale: 0.001,
    authRetryMs: 180_000,
    signal: new AbortController().signal,
    random: () => 0,
    async send(body) {
      const events = JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as Array<{ properties: { $insert_id: string } }>;
      sent.push(events.map((x) => x.properties.$insert_id));
      return handler(events);
    },
  };
  return e;
}

const ids = (xs: Deliverable[]) => xs.map((x) => x.insertId);

describe('deliverBatch', () => {
  it('acknowledges a 200 in one request', async () => {
    const e = env((evs) => ok(evs.length));
    const batch = items(5);
    const r = await deliverBatch(batch, e);
    expect(ids(r.sent)).toEqual(ids(batch));
    expect(r.deadLetters).toEqual([]);
    expect(e.sent).toHaveLength(1);
  });

  it('dead-letters only the failed_records of a 400 and never re-sends the batch', async () => {
    const e = env((evs) =>
      status(400, JSON.stringify({ code: 400, num_records_imported: evs.length - 1, failed_records: [{ index: 2, $insert_id: evs[2]!.properties.$insert_id, field: 'properties.time', message: 'bad' }] })),
    );
    const batch = items(5);
    const r = await deliverBatch(batch, e);
    expect(ids(r.sent)).toEqual(['ins-0', 'ins-1', 'ins-3', 'ins-4']);
    expect(r.deadLetters).toEqual([expect.objectContaining({ eventId: 'e2', reason: 'failed_record', field: 'properties.time', message: 'bad' })]);
    expect(e.sent).toHaveLength(1);
  });

  it('halves on 413 until it fits, and dead-letters a single event that still gets 413 as too_large', async () => {
    const e = env((evs) => (evs.length > 2 || evs.some((x) => x.properties.$insert_id === 'ins-5') ? status(413, 'too large') : ok(evs.length)));
    const batch = items(8);
    const r = await deliverBatch(batch, e);
    expect(ids(r.sent).sort()).toEqual(['ins-0', 'ins-1', 'ins-2', 'ins-3', 'ins-4', 'ins-6', 'ins-7']);
    expect(r.deadLetters).toEqual([expect.objectContaining({ eventId: 'e5', reason: 'too_large' })]);
    expect(e.sent[0]).toHaveLength(8);
  });

  it('splits on a 400 without failed_records, dead-lettering the lone bad event with the response text', async () => {
    const e = env((evs) => (evs.some((x) => x.properties.$insert_id === 'ins-1') ? status(400, '{"error":"request body is not valid JSON"}') : ok(evs.length)));
    const batch = items(4);
    const r = await deliverBatch(batch, e);
    expect(ids(r.sent)).toEqual(['ins-0', 'ins-2', 'ins-3']);
    expect(r.deadLetters).toEqual([expect.objectContaining({ eventId: 'e1', reason: 'rejected: HTTP 400', message: expect.stringContaining('not valid JSON') })]);
  });

  it('retries transient failures with backoff until they pass, counting each retry', async () => {
    const script = [status(429), status(503), { kind: 'network', error: 'ECONNRESET' } as ImportAnswer, status(502, '', '0')];
    const e = env((evs) => script.shift() ?? ok(evs.length));
    let retries = 0;
    e.onRetry = () => retries++;
    const batch = items(3);
    const r = await deliverBatch(batch, e);
    expect(ids(r.sent)).toEqual(ids(batch));
    expect(retries).toBe(4);
    expect(e.sent).toHaveLength(5);
  });

  it('flags degraded after continuous transient failure, then recovers with one notice each', async () => {
    const transitions: HealthTransition[] = [];
    let failUntil = Date.now() + 150;
    const e = env((evs) => (Date.now() < failUntil ? status(503) : ok(evs.length)), transitions);
    e.delayScale = 0.005;
    const batch = items(1);
    await deliverBatch(batch, e);
    await e.health.flushed();
    expect(transitions.map((t) => `${t.from}->${t.to}`)).toEqual(['ok->degraded', 'degraded->ok']);
    failUntil = 0;
  });

  it('while failed on auth, sends one probe at a time; the others wait for the gate; one failure and one recovery', async () => {
    const transitions: HealthTransition[] = [];
    let authBroken = true;
    let concurrent = 0;
    let maxConcurrentWhileBroken = 0;
    const e = env(async (evs) => {
      concurrent++;
      if (authBroken) maxConcurrentWhileBroken = Math.max(maxConcurrentWhileBroken, concurrent);
      await new Promise((r) => setTimeout(r, 5));
      concurrent--;
      return authBroken ? status(401, '{"error":"Invalid credentials"}') : ok(evs.length);
    }, transitions);
    e.authRetryMs = 120_000; // × 0.001 = 120 ms between probes
    const batches = [items(2, 0), items(2, 10), items(2, 20), items(2, 30)];
    const runs = batches.map((b) => deliverBatch(b, e));
    await new Promise((r) => setTimeout(r, 400));
    const whileBroken = e.sent.length;
    authBroken = false;
    const results = await Promise.all(runs);
    await e.health.flushed();
    expect(results.flatMap((r) => ids(r.sent)).sort()).toEqual(batches.flat().map((x) => x.insertId).sort());
    expect(transitions.map((t) => `${t.from}->${t.to}`)).toEqual(['ok->failed', 'failed->ok']);
    // The four first attempts went out together; after that, one probe every ~120 ms.
    expect(whileBroken).toBeLessThanOrEqual(4 + 5);
    expect(e.health.health).toBe('ok');
    expect(maxConcurrentWhileBroken).toBeLessThanOrEqual(4);
  });

  it('stops at once when aborted, leaving the batch unsettled', async () => {
    const controller = new AbortController();
    const e = env(() => status(503));
    e.signal = controller.signal;
    e.delayScale = 1;
    const batch = items(1);
    const run = deliverBatch(batch, e);
    setTimeout(() => controller.abort(new DOMException('stop', 'AbortError')), 20);
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('packed batches (the pipeline\'s bodies as UTF-8 bytes)', () => {
  const packed = (n: number) =>
    items(n).map((d, i) => {
      // Non-ASCII text, so that bytes and characters differ.
      const json = d.json.replace('"t"', `"t-é😀\\u2028-${i}"`);
      return new PackedDeliverable(d.eventId, d.eventType, d.insertId, json, Buffer.byteLength(json));
    });

  it('packs exactly the bytes of the joined text, and each item reads its own text back', () => {
    const batch = packed(5);
    const texts = batch.map((i) => i.json);
    const bytes = 2 + batch.reduce((n, i) => n + i.bytes, 0) + batch.length - 1;
    const body = packBody(batch, bytes);
    expect(body.equals(Buffer.from(joinBatch(texts.map((json) => ({ json, bytes: 0 })))))).toBe(true);
    expect(batch.map((i) => i.json)).toEqual(texts);
    expect(() => packBody(packed(2), 10)).toThrow(/packing a batch/);
  });

  it('sends the packed body first, and halves and dead letters from the text read back', async () => {
    const e = env((evs) => (evs.some((x) => x.properties.$insert_id === 'ins-2') && evs.length > 1 ? status(413, 'too large') : evs.length === 1 && evs[0]!.properties.$insert_id === 'ins-2' ? status(413) : ok(evs.length)));
    const batch = packed(4);
    const texts = batch.map((i) => i.json);
    const body = packBody(batch, 2 + batch.reduce((n, i) => n + i.bytes, 0) + 3);
    const r = await deliverBatch(batch, e, body);
    expect(e.sent[0]).toEqual(['ins-0', 'ins-1', 'ins-2', 'ins-3']);
    expect(ids(r.sent).sort()).toEqual(['ins-0', 'ins-1', 'ins-3']);
    expect(r.deadLetters).toEqual([expect.objectContaining({ eventId: 'e2', reason: 'too_large', event: JSON.parse(texts[2]!) })]);
  });
});
