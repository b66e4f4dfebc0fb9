/**
 * The pure rules of the Currents export: the retry table of docs/reference/currents.md §3 (verdicts, backoff,
 * Retry-After), locating failed records, the cursor rule (ack window), connector settings,
 * notices and the progress bar.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AckWindow } from '../src/currents/delivery/ack-window.js';
import { backoffMs, judge, locateFailedRecords, parseRetryAfter, RETRY_AFTER_CAP_MS } from '../src/currents/delivery/retry-policy.js';
import { parseMixpanelExportInput, checkBaseUrl } from '../src/currents/connectors/settings.js';
import { noticeFor } from '../src/currents/notifications/notices.js';
import { formatProgress } from '../src/currents/backfill/progress.js';
import { judgeProbe } from '../src/currents/connectors/connection-test.js';
import { eventTypeCatalogue } from '../src/currents/publish/event-types.js';
import { SELECTABLE_EVENT_TYPES } from '../src/events/catalogue.js';
import { ApiError } from '../src/http/errors.js';
import { EventStore } from '../src/emulator/mixpanel/index.js';

const response = (status: number, text = '', retryAfter: string | null = null) => ({ kind: 'response' as const, status, text, retryAfter });
const NOW = Date.UTC(2026, 0, 1);

describe('retry verdicts (docs/reference/currents.md §3)', () => {
  it('acknowledges a 200', () => {
    expect(judge(response(200, '{"code":200}'), NOW)).toEqual({ action: 'ack' });
  });

  it('dead-letters only the failed_records of a 400, reading $insert_id and insert_id', () => {
    const body = JSON.stringify({
      code: 400,
      failed_records: [
        { index: 1, $insert_id: 'b', field: 'properties.time', message: 'bad time' },
        { index: 3, insert_id: 'd', field: 'event', message: 'bad event' },
      ],
    });
    expect(judge(response(400, body), NOW)).toEqual({
      action: 'partial',
      failed: [
        { index: 1, insertId: 'b', field: 'properties.time', message: 'bad time' },
        { index: 3, insertId: 'd', field: 'event', message: 'bad event' },
      ],
    });
  });

  it('splits on 413, on a 400 without failed_records and on unlisted 4xx', () => {
    expect(judge(response(413, 'too big'), NOW)).toMatchObject({ action: 'split', reason: 'too_large', status: 413 });
    expect(judge(response(400, '{"code":400,"error":"bad json"}'), NOW)).toMatchObject({ action: 'split', reason: 'rejected', status: 400 });
    expect(judge(response(400, '{"failed_records":[]}'), NOW)).toMatchObject({ action: 'split', reason: 'rejected' });
    expect(judge(response(415, ''), NOW)).toMatchObject({ action: 'split', reason: 'rejected', status: 415 });
    expect(judge(response(422, ''), NOW)).toMatchObject({ action: 'split', status: 422 });
  });

  it('fails the connector on 401, 403, 404 (and a redirect: a wrong base URL)', () => {
    for (const s of [401, 403, 404, 301, 307]) expect(judge(response(s, 'no'), NOW)).toMatchObject({ action: 'auth', status: s });
  });

  it('backs off on 408, 429, 5xx and network errors, honouring Retry-After', () => {
    for (const s of [408, 429, 500, 502, 503, 504]) expect(judge(response(s), NOW)).toMatchObject({ action: 'transient', status: s, retryAfterMs: null });
    expect(judge(response(429, '', '7'), NOW)).toMatchObject({ retryAfterMs: 7000 });
    expect(judge({ kind: 'network', error: 'ECONNRESET' }, NOW)).toMatchObject({ action: 'transient', status: null, detail: 'ECONNRESET' });
  });

  it('reads Retry-After as seconds or an HTTP date, capped at 15 minutes', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(new Date(NOW + 30_000).toUTCString(), NOW)).toBe(30_000);
    expect(parseRetryAfter(new Date(NOW - 30_000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfter('99999', NOW)).toBe(RETRY_AFTER_CAP_MS);
    expect(parseRetryAfter('soon', NOW)).toBeNull();
    expect(parseRetryAfter(null, NOW)).toBeNull();
  });

  it('backs off 2 s doubling to 60 s, plus 1–5 s of jitter', () => {
    expect(backoffMs(1, () => 0)).toBe(3000);
    expect(backoffMs(2, () => 0)).toBe(5000);
    expect(backoffMs(5, () => 0)).toBe(33_000);
    expect(backoffMs(6, () => 0)).toBe(61_000);
    expect(backoffMs(50, () => 0.999999)).toBe(65_000);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, r) => {
        const base = Math.min(60_000, 2000 * 2 ** (attempt - 1));
        const d = backoffMs(attempt, () => r);
        return d >= base + 1000 && d <= base + 5000;
      }),
    );
  });

  it('locates failed records by index, falling back to $insert_id, never guessing', () => {
    const ids = ['a', 'b', 'c'];
    const r = locateFailedRecords(ids, [
      { index: 0, insertId: 'a', field: null, message: null },
      { index: 0, insertId: 'c', field: null, message: null },
      { index: 1, insertId: null, field: null, message: null },
      { index: 9, insertId: 'zz', field: null, message: null },
    ]);
    expect([...r.located.keys()].sort()).toEqual([0, 1, 2]);
    expect(r.unlocated).toHaveLength(1);
  });
});

describe('the cursor rule (ack window)', () => {
  it('moves only past a contiguous run of settled segments, whatever order batches finish in', () => {
    const w = new AckWindow<number>();
    const a = w.open(10, 10, 2);
    const b = w.open(20, 10, 1);
    const c = w.open(30, 10, 0);
    c.tallies.add('skipped', 't', 'not_selected', 10);
    expect(w.inFlightEvents).toBe(30);
    w.settleBatch(b);
    expect(w.takeSettled()).toBeNull();
    w.settleBatch(a);
    expect(w.takeSettled()).toBeNull();
    w.settleBatch(a);
    const run = w.takeSettled()!;
    expect(run.end).toBe(30);
    expect(run.events).toBe(30);
    expect(run.tallies.total('skipped')).toBe(10);
    expect(w.inFlightEvents).toBe(0);
  });

  it('never skips an unsettled segment (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 20 }), fc.integer(), (batches, seed) => {
        const w = new AckWindow<number>();
        const segs = batches.map((n, i) => w.open(i, 1, n));
        const pending = segs.flatMap((s) => Array.from({ length: s.pending }, () => s));
        let x = seed;
        let committed = -1;
        while (pending.length) {
          x = (x * 1103515245 + 12345) & 0x7fffffff;
          const [s] = pending.splice(x % pending.length, 1);
          w.settleBatch(s!);
          const run = w.takeSettled();
          if (run) committed = run.end;
          // Everything at or before `committed` is settled.
          if (!segs.slice(0, committed + 1).every((seg) => seg.pending === 0)) return false;
        }
        w.takeSettled();
        return w.inFlightEvents === 0;
      }),
    );
  });
});

const validBody = () => ({
  name: 'Prod export',
  contact_email: 'ops@example.com',
  credentials: { kind: 'service_account', username: 'sa.user', secret: 's3cret-value', project_id: 12345 },
  project_token: 'tok-abcdef',
  region: 'eu',
  event_types: ['users.messages.email.Open', 'users.behaviors.CustomEvent'],
});

function problems(body: unknown): Array<{ path?: string; type: string }> {
  try {
    parseMixpanelExportInput(body);
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).statusCode).toBe(400);
    return (err as ApiError).errors as Array<{ path?: string; type: string }>;
  }
  throw new Error('expected a 400');
}

describe('connector settings', () => {
  it('reads a service-account export with defaults', () => {
    const input = parseMixpanelExportInput(validBody());
    expect(input).toMatchObject({
      region: 'EU',
      baseUrl: null,
      partnerId: 'rivulet',
      batchByteCap: 9 * 1024 * 1024,
      maxInFlight: 4,
      startFrom: 'now',
      eventTypes: ['users.behaviors.CustomEvent', 'users.messages.email.Open'],
      secrets: { credentials: { kind: 'service_account', username: 'sa.user', secret: 's3cret-value', projectId: '12345' }, projectToken: 'tok-abcdef' },
    });
  });

  it('reads a legacy API secret export', () => {
    const input = parseMixpanelExportInput({ ...validBody(), credentials: { kind: 'api_secret', api_secret: 'legacy-secret' } });
    expect(input.secrets.credentials).toEqual({ kind: 'api_secret', apiSecret: 'legacy-secret' });
  });

  it('names every bad field', () => {
    const found = problems({
      ...validBody(),
      contact_email: 'not-an-email',
      credentials: { kind: 'service_account', username: 'u' },
      region: 'MARS',
      event_types: ['users.messages.newsfeedcard.Click', 'users.nope', 7],
      base_url: 'ftp://x',
      max_in_flight: 21,
      batch_byte_cap: 100 * 1024 * 1024,
      extra: 1,
    }).map((p) => p.path);
    expect(found).toEqual(
      expect.arrayContaining([
        'extra',
        'contact_email',
        'credentials.secret',
        'credentials.project_id',
        'region',
        'event_types[0]',
        'event_types[1]',
        'event_types[2]',
        'base_url',
        'max_in_flight',
        'batch_byte_cap',
      ]),
    );
    expect(problems({ ...validBody(), event_types: [] }).map((p) => p.path)).toEqual(['event_types']);
    expect(problems({ ...validBody(), credentials: { kind: 'api_secret', api_secret: 'x', username: 'u' } }).map((p) => p.path)).toEqual(['credentials.username']);
  });

  it('accepts only http(s) base URLs without credentials or query', () => {
    expect(checkBaseUrl('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080');
    expect(checkBaseUrl('https://proxy.example.com/mp')).toBe('https://proxy.example.com/mp');
    for (const bad of ['file:///etc/passwd', 'http://u:p@host', 'http://host/?x=1', 'javascript:alert(1)', 'nope']) expect(checkBaseUrl(bad)).toBeNull();
  });
});

describe('catalogue view for the dashboard', () => {
  it('groups every selectable type under Behaviors, Campaigns, Canvas and Messages (with channels); legacy apart', () => {
    const { groups, legacy } = eventTypeCatalogue();
    expect(groups.map((g) => g.label)).toEqual(['Behaviors', 'Campaigns', 'Canvas', 'Messages']);
    expect(groups.flatMap((g) => g.types.map((t) => t.type)).sort()).toEqual([...SELECTABLE_EVENT_TYPES].sort());
    expect(groups[3]!.channels!.map((c) => c.channel)).toEqual(['contentcard', 'email', 'inappmessage', 'pushnotification', 'sms', 'webhook']);
    expect(groups[3]!.types.every((t) => t.channel !== null)).toBe(true);
    expect(legacy.map((t) => t.type)).toEqual(['users.messages.newsfeedcard.Abort', 'users.messages.newsfeedcard.Click', 'users.messages.newsfeedcard.Impression']);
    const email = groups[3]!.types.find((t) => t.type === 'users.messages.email.Send')!;
    expect(email).toMatchObject({ mixpanel_event: 'Email Send', channel: 'email', selectable: true });
    expect(email.fields.find((f) => f.name === 'email_address')).toEqual({ name: 'email_address', type: 'string', nullable: false, placement: 'properties' });
  });
});

describe('notices, probe and progress', () => {
  const c = { id: 'c1', name: 'Prod', credentialHints: { secret: '…wxyz', project_token: '…1234' } };
  it('notifies on failure, degradation and recovery, never repeating within an incident', () => {
    const at = new Date(NOW);
    expect(noticeFor(c, 'ok', 'failed', 'HTTP 401', at)?.kind).toBe('connector_failed');
    expect(noticeFor(c, 'degraded', 'failed', 'HTTP 401', at)?.kind).toBe('connector_failed');
    expect(noticeFor(c, 'ok', 'degraded', 'HTTP 503', at)?.kind).toBe('connector_degraded');
    expect(noticeFor(c, 'failed', 'degraded', 'HTTP 503', at)).toBeNull();
    expect(noticeFor(c, 'failed', 'ok', null, at)?.kind).toBe('connector_recovered');
    expect(noticeFor(c, 'ok', 'failed', 'x', at)!.body).toContain('…wxyz');
  });

  it('reads the connection probe answer', () => {
    expect(judgeProbe(response(400, '{"failed_records":[{"index":0}]}'))).toMatchObject({ ok: true, status: 400 });
    expect(judgeProbe(response(401, '{}'))).toMatchObject({ ok: false, status: 401 });
    expect(judgeProbe(response(403, '{}'))).toMatchObject({ ok: false, status: 403 });
    expect(judgeProbe({ kind: 'network', error: 'ECONNREFUSED' })).toMatchObject({ ok: false, status: null });
  });

  it('draws a progress bar', () => {
    const line = formatProgress({ id: 'b', total: 200_000, done: 50_000, sent: 49_000, skipped: 1000, deadLettered: 0, retries: 2, health: 'ok', lastError: null }, 5000);
    expect(line).toContain('[██████░░░░░░░░░░░░░░░░░░]');
    expect(line).toContain(' 25.0%');
    expect(line).toContain('50,000/200,000 events');
    expect(line).toContain('10,000 ev/s');
    expect(line).toContain('retries 2');
  });
});

describe('the emulator store without records (bench option)', () => {
  it('keeps counts and dedup keys, and no records', () => {
    const store = new EventStore(false);
    const key = (i: number) => ({ event: 'E', distinctId: 'u', timeMs: 1_700_000_000_000, insertId: `id-${i}` });
    for (const i of [1, 2, 2, 3]) store.add('p', { event: 'E', properties: { $insert_id: `id-${i}` } }, key(i));
    expect([store.count('p', 'raw'), store.count('p', 'dedup'), store.count('p', 'dedup_daily')]).toEqual([4, 3, 3]);
    expect(store.page('p', 'dedup')).toEqual({ total: 3, records: [] });
  });
});
