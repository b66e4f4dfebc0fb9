/**
 * The acceptance scenario of issue #5, parameterised by size: events produced through `/users/track`
 * and `/currents/events` while the emulated Mixpanel answers 10% 429s, 2% 503s and, once a fifth
 * of the events have landed, a 401 outage. At the end the emulator's deduplicated view must hold
 * exactly the events the log calls for (none lost, none doubled), the connector's skip counters
 * must match, and the outage must have cost exactly one failure notice and one recovery notice.
 * `test/currents-e2e.db.test.ts` runs it small; `bench/currents-e2e.ts` runs it at full size.
 */
import { randomUUID } from 'node:crypto';
import type { RunningMixpanelEmulator } from '../src/emulator/mixpanel/index.js';
import type { TestServer } from '../src/test-support/server.js';
import { allLogEvents, byInsertId, connectorBody, expectedFor, waitFor, type MixpanelProjectCreds } from './currents-support.js';

export const SELECTED = [
  'users.behaviors.CustomEvent',
  'users.behaviors.Purchase',
  'users.messages.email.Open',
  'users.messages.email.Send',
  'users.messages.pushnotification.Send',
];

export interface ScenarioOptions {
  server: TestServer;
  emulator: RunningMixpanelEmulator;
  project: MixpanelProjectCreds;
  events: number;
  outageMs: number;
  /** Uncompressed bytes per request: small caps mean many requests, so the faults bite often. */
  batchByteCap: number;
  users?: number;
  progress?: (line: string) => void;
  timeoutMs?: number;
}

export interface ScenarioResult {
  connectorId: string;
  produced: { track: number; publish: number; duplicates: number };
  logEvents: number;
  expectedSent: number;
  delivered: number;
  raw: number;
  matches: boolean;
  skipped: Record<string, number>;
  expectedSkipped: Record<string, number>;
  generatedSkips: { before_2010: number; invalid_distinct_id: number; no_external_user_id: number };
  status: Record<string, any>;
  statuses: Record<string, number>;
  notices: string[];
  timings: { ingestMs: number; totalMs: number; outageStartedAtMs: number | null };
}

type Call = TestServer['call'];

async function mustCall(call: Call, path: string, body: unknown, expected = 201) {
  for (let attempt = 0; ; attempt++) {
    const res = await call('POST', path, body);
    if (res.status === expected) return res;
    if (res.status === 429 && attempt < 100) {
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    throw new Error(`${path} answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
  }
}

async function inParallel<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

export async function runExportScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const started = Date.now();
  const say = o.progress ?? (() => {});
  const { call } = o.server;
  const users = o.users ?? Math.max(10, Math.min(5000, Math.floor(o.events / 40)));
  const now = Math.floor(Date.now() / 1000);
  const faults = { rate429: 0.1, rate5xx: 0.02, status5xx: 503 };
  o.emulator.emulator.setFaults(faults);

  // Users: identified ones, one whose external id Mixpanel refuses ("null"), and anonymous devices.
  const attributes = Array.from({ length: users }, (_, i) => ({ external_id: `u${i}`, email: `u${i}@example.com`, ...(i % 50 === 0 ? { email_subscribe: 'subscribed' } : {}) }));
  attributes.push({ external_id: 'null', email: 'null@example.com' });
  for (let i = 0; i < attributes.length; i += 75) await mustCall(call, '/users/track', { attributes: attributes.slice(i, i + 75) });
  const devices = Array.from({ length: 10 }, (_, i) => `anon-device-${i}`);
  for (const d of devices) await mustCall(call, '/sdk/sessions/start', { app_id: 'app', device_id: d, session_id: `s-${d}` });

  // Connectors start at the head of the log: what was logged before is not theirs to send.
  const { rows: head } = await o.server.testDb.db.query<{ seq: number | null }>('SELECT max(seq) AS seq FROM event_log');
  const startSeq = head[0]?.seq ?? 0;
  const connector = await mustCall(call, '/admin/currents/mixpanel', connectorBody(o.emulator.url, o.project, { event_types: SELECTED, batch_byte_cap: o.batchByteCap, name: 'Acceptance' }));
  const connectorId: string = connector.body.id;

  // The events, by kind: 60% track (custom events and purchases), 40% publish (messages, unselected,
  // before 2010, anonymous, ids that need a UUIDv5 $insert_id).
  const trackEvents: object[] = [];
  const trackPurchases: object[] = [];
  const published: object[] = [];
  const generatedSkips = { before_2010: 0, invalid_distinct_id: 0, no_external_user_id: 0 };
  for (let i = 0; i < o.events; i++) {
    const user = `u${i % users}`;
    const time = now - 60 - (i % 3000);
    const iso = new Date(time * 1000).toISOString();
    const kind = i % 20;
    if (kind < 10) trackEvents.push({ external_id: user, name: `level_${i % 7}`, time: iso, properties: { i, tag: `t${i % 13}`, nested: { n: i % 5 } } });
    else if (kind < 12) trackPurchases.push({ external_id: user, product_id: `sku-${i % 31}`, currency: 'EUR', price: (i % 100) + 0.5, time: iso, properties: { i } });
    else if (kind < 15)
      published.push({
        event_type: kind === 14 ? 'users.messages.email.Send' : 'users.messages.email.Open',
        id: randomUUID(),
        time,
        user: { external_user_id: user },
        properties: { email_address: `${user}@example.com`, campaign_id: `c${i % 9}`, send_id: `s${i}` },
      });
    else if (kind === 15)
      published.push({ event_type: 'users.canvas.Entry', id: randomUUID(), time, user: { external_user_id: user }, properties: { canvas_id: 'cv', canvas_variation_id: 'v1', in_control_group: false } });
    else if (kind === 16) {
      generatedSkips.before_2010 += 1;
      published.push({ event_type: 'users.behaviors.CustomEvent', id: randomUUID(), time: 1_200_000_000 + i, user: { external_user_id: user }, properties: { name: 'old' } });
    } else if (kind === 17) {
      generatedSkips.no_external_user_id += 1;
      published.push({ event_type: 'users.messages.pushnotification.Send', id: randomUUID(), time, user: { device_id: devices[i % devices.length] }, properties: { app_id: 'app', platform: 'android' } });
    } else if (kind === 18) {
      generatedSkips.invalid_distinct_id += 1;
      trackEvents.push({ external_id: 'null', name: 'from_null', time: iso, properties: { i } });
    } else published.push({ event_type: 'users.behaviors.CustomEvent', id: `evt:${i}/custom#${connectorId.slice(0, 8)}`, time, user: { external_user_id: user }, properties: { name: 'odd_id', custom_properties: { i } } });
  }

  // Ingest while the connector delivers, and start the 401 outage once a fifth has landed.
  let outageStartedAtMs: number | null = null;
  const outageWatch = (async () => {
    await waitFor(async () => o.emulator.emulator.store.count(o.project.projectId, 'dedup') >= o.events * 0.2, 'a fifth of the events to land', o.timeoutMs ?? 600_000, 20);
    outageStartedAtMs = Date.now() - started;
    const at = o.emulator.emulator.now();
    o.emulator.emulator.setFaults({ ...faults, outages: [{ startMs: at, endMs: at + o.outageMs, status: 401 }] });
    say(`401 outage for ${o.outageMs} ms from t+${outageStartedAtMs} ms`);
  })();

  const trackBodies: object[] = [];
  for (let i = 0; i < Math.max(trackEvents.length, trackPurchases.length); i += 75) {
    const body: Record<string, object[]> = {};
    const ev = trackEvents.slice(i, i + 75);
    const pu = trackPurchases.slice(i, i + 75);
    if (ev.length) body['events'] = ev;
    if (pu.length) body['purchases'] = pu;
    trackBodies.push(body);
  }
  const publishBodies: object[][] = [];
  for (let i = 0; i < published.length; i += 1000) publishBodies.push(published.slice(i, i + 1000));
  let duplicates = 0;
  const trackWork = trackBodies.map((b) => async () => void (await mustCall(call, '/users/track', b)));
  const publishWork = publishBodies.map((events) => async () => {
    const r = await mustCall(call, '/currents/events', { events });
    duplicates += r.body.duplicates;
  });
  // Interleave the two sources evenly.
  const every = Math.max(1, Math.floor(trackWork.length / Math.max(1, publishWork.length)));
  const work: Array<() => Promise<void>> = [];
  trackWork.forEach((w, i) => {
    if (i % every === 0 && publishWork.length) work.push(publishWork.shift()!);
    work.push(w);
  });
  work.push(...publishWork);
  let done = 0;
  await inParallel(work, 4, async (w) => {
    await w();
    if (++done % 200 === 0) say(`ingested ${done}/${work.length} requests`);
  });
  // A producer retrying its first publish: every event is acknowledged as a duplicate, none is appended.
  if (publishBodies[0]) duplicates += (await mustCall(call, '/currents/events', { events: publishBodies[0] })).body.duplicates;
  const ingestMs = Date.now() - started;
  say(`ingestion done in ${ingestMs} ms`);

  await outageWatch;
  const status = await waitFor(
    async () => {
      const st = (await call('GET', `/admin/currents/${connectorId}/status`)).body;
      say(`lag ${st.lag.events} events, in flight ${st.in_flight}, sent ${st.sent}, state ${st.state}`);
      return st.lag.events === 0 && st.in_flight === 0 && st.state === 'active' ? st : undefined;
    },
    'the connector to catch up',
    o.timeoutMs ?? 600_000,
    500,
  );
  const notices = await waitFor(
    async () => {
      const n = (await call('GET', `/admin/currents/${connectorId}/notifications`)).body.notifications as Array<{ kind: string; sent_at: string | null }>;
      return n.length >= 2 && n.every((x) => x.sent_at) ? n.map((x) => x.kind).reverse() : undefined;
    },
    'the notices to be sent',
    60_000,
  );

  const log = (await allLogEvents(o.server.testDb.db, o.server.workspaceId)).filter((e) => e.seq > startSeq);
  const expected = expectedFor(log, SELECTED, o.project.token);
  const delivered = o.emulator.emulator.events(o.project.projectId);
  const matches = JSON.stringify([...delivered].sort(byInsertId)) === JSON.stringify([...expected.events].sort(byInsertId));
  const byStatus = o.emulator.emulator.stats().requests.by_status as Record<string, number>;
  return {
    connectorId,
    produced: { track: trackEvents.length + trackPurchases.length, publish: published.length, duplicates },
    logEvents: log.length,
    expectedSent: expected.events.length,
    delivered: delivered.length,
    raw: o.emulator.emulator.store.count(o.project.projectId, 'raw'),
    matches,
    skipped: status.skipped_by_reason,
    expectedSkipped: expected.skipped,
    generatedSkips,
    status,
    statuses: byStatus,
    notices,
    timings: { ingestMs, totalMs: Date.now() - started, outageStartedAtMs },
  };
}
