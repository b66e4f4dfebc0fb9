/**
 * The mapping and batching against the emulator: what the exporter builds is what `/import`
 * accepts, and a redelivery of the same events is absorbed by Mixpanel's dedup.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { SELECTABLE_EVENT_TYPES, type CurrentsEvent } from '../../events/catalogue.js';
import { buildMixpanelEmulator } from '../../emulator/mixpanel/index.js';
import { batchForImport } from './batching.js';
import { mapCurrentsEvent, type MixpanelEvent } from './mapping.js';

const NOW_S = 1_736_942_400;
const built = buildMixpanelEmulator({ now: () => NOW_S * 1000, projects: [{ id: '7', token: 'tok7' }] });
let url: string;

beforeAll(async () => {
  await built.app.listen({ port: 0, host: '127.0.0.1' });
  const address = built.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  url = `http://127.0.0.1:${address.port}/import?strict=1&ip=0`;
});
afterAll(() => built.app.close());

const events: CurrentsEvent[] = Array.from({ length: 300 }, (_, i) => ({
  event_type: i % 2 ? 'users.behaviors.CustomEvent' : 'users.messages.email.Open',
  id: i % 3 ? `evt:${i}/with:odd#chars` : `0b9f7d1e-3c1a-4c55-9d0e-${String(i).padStart(12, '0')}`,
  time: NOW_S - 3600 - i,
  user: { user_id: `b_${i}`, external_user_id: `u${i % 40}`, device_id: `dev_${i}` },
  properties: i % 2 ? { name: 'played', custom_properties: { level: i, tags: ['a'] } } : { email_address: `u${i}@x.com`, is_amp: false },
}));

async function send(): Promise<number[]> {
  const mapped = events.map((e) => mapCurrentsEvent(e, { selectedTypes: new Set(SELECTABLE_EVENT_TYPES), token: 'tok7' }));
  const toSend = mapped.flatMap((m) => (m.outcome === 'send' ? [m.event] : []));
  expect(toSend).toHaveLength(events.length);
  const statuses: number[] = [];
  for (const batch of batchForImport(toSend, (e: MixpanelEvent) => e, { maxBytes: 16 * 1024 })) {
    const res = await request(url, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('tok7:').toString('base64')}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(batch.body),
    });
    expect(await res.body.json()).toEqual({ code: 200, num_records_imported: batch.items.length, status: 'OK' });
    statuses.push(res.statusCode);
  }
  return statuses;
}

describe('exporter output against the emulator', () => {
  it('is accepted whole, and a redelivery is deduplicated', async () => {
    const first = await send();
    expect(first.length).toBeGreaterThan(1);
    await send();
    expect(built.emulator.store.count('7', 'raw')).toBe(600);
    expect(built.emulator.store.count('7', 'dedup')).toBe(300);
    expect(built.emulator.store.count('7', 'dedup_daily')).toBe(300);
    const stored = built.emulator.events('7').find((r) => r.properties['[Custom event property] level'] === 1);
    expect(stored).toEqual({
      event: '[Braze Custom Event] played',
      properties: {
        distinct_id: 'u1',
        $insert_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        time: NOW_S - 3601,
        token: 'tok7',
        $partner_id: 'rivulet',
        device_id: 'dev_1',
        name: 'played',
        '[Custom event property] level': 1,
        '[Custom event property] tags': ['a'],
      },
    });
  });
});
