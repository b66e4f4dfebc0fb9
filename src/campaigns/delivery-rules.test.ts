/** The pure delivery rules: triggers, conversions, quiet hours, frequency rules, SendGrid's events. */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkSendGridSignature, mapSendGridEvents, sendGridPublicKey } from '../channels/index.js';
import { conversionsOf, type ConversionBehavior } from './conversion-rules.js';
import { checkFrequencyRules, quietUntil } from './gate-rules.js';
import { triggerDue, type CampaignTrigger } from './triggers/rules.js';

const T = Date.parse('2026-06-01T12:00:00Z') / 1000;

describe('triggers', () => {
  const trigger: CampaignTrigger = { type: 'custom_event', custom_event_name: 'x', property_filters: [{ property: 'n', op: 'greater_than', value: 2 }], delay_seconds: 60, window: { end: '2026-06-01T12:00:30Z' } };
  const ev = (props: Record<string, unknown>, time = T) => ({ event_type: 'users.behaviors.CustomEvent', time, properties: { name: 'x', custom_properties: props } });
  it('is due after the delay when the filters hold, and not when the send would fall after the window', () => {
    expect(triggerDue({ ...trigger, window: undefined }, ev({ n: 3 }), T)).toBe(T + 60);
    expect(triggerDue({ ...trigger, window: undefined }, ev({ n: 2 }), T)).toBeUndefined();
    expect(triggerDue(trigger, ev({ n: 3 }), T)).toBeUndefined();
    expect(triggerDue({ ...trigger, window: undefined }, ev({ n: 3 }, T - 90_000), T)).toBeUndefined();
    expect(triggerDue({ type: 'session_start', delay_seconds: 0 }, { event_type: 'users.behaviors.app.SessionStart', time: T, properties: {} }, T)).toBe(T);
  });
});

describe('conversions', () => {
  const b: ConversionBehavior = { type: 'makes_purchase', product: 'shoe', window: 600 };
  const buy = (time: number, product = 'shoe') => ({ event_type: 'users.behaviors.Purchase', time, properties: { product_id: product } });
  it('credits the newest receipt whose window holds the event', () => {
    const receipts = [
      { send_key: 'old', campaign_id: 'c', at: T - 500, behaviors: [b] },
      { send_key: 'new', campaign_id: 'c', at: T - 100, behaviors: [b] },
      { send_key: 'other', campaign_id: 'd', at: T - 700, behaviors: [b] },
    ];
    expect(conversionsOf(buy(T), receipts).map((c) => c.receipt.send_key)).toEqual(['new']);
    expect(conversionsOf(buy(T, 'hat'), receipts)).toEqual([]);
    // Another campaign's window is its own.
    expect(conversionsOf(buy(T - 200), receipts).map((c) => c.receipt.send_key)).toEqual(['old', 'other']);
  });
});

describe('quiet hours', () => {
  it('wraps midnight and follows the user\'s zone', () => {
    const q = { start_hour: 22, end_hour: 7, fallback: 'send_later' as const };
    const at = Date.parse('2026-06-01T23:30:00Z');
    expect(new Date(quietUntil(q, at, null)!).toISOString()).toBe('2026-06-02T07:00:00.000Z');
    // 23:30 UTC is 08:30 in Tokyo: not quiet there.
    expect(quietUntil(q, at, 'Asia/Tokyo')).toBeUndefined();
    // 12:30 UTC is 21:30 in Tokyo (not quiet), 13:30 UTC is 22:30 there: quiet until 07:00 Tokyo = 22:00 UTC.
    expect(quietUntil(q, Date.parse('2026-06-01T12:30:00Z'), 'Asia/Tokyo')).toBeUndefined();
    expect(new Date(quietUntil(q, Date.parse('2026-06-01T13:30:00Z'), 'Asia/Tokyo')!).toISOString()).toBe('2026-06-01T22:00:00.000Z');
  });
  it('checks frequency rules, naming the field', () => {
    const problems: Array<{ field: string; message: string }> = [];
    checkFrequencyRules([{ channel: 'any', count: 2, window_seconds: 86_400 }, { channel: 'email', count: 0, window_seconds: 60 }], problems);
    expect(problems.map((p) => p.field)).toEqual(['rules[1].count']);
  });
});

describe("SendGrid's Event Webhook", () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const key = sendGridPublicKey(publicKey.export({ format: 'der', type: 'spki' }).toString('base64'))!;
  const body = '[{"email":"a@x.test","timestamp":1,"event":"dropped","reason":"Bounced Address"}]';
  const sig = (ts: string, raw: string) => sign('sha256', Buffer.from(ts + raw), privateKey).toString('base64');
  it('verifies the ECDSA signature over timestamp and raw body', () => {
    expect(checkSendGridSignature(key, sig('1000', body), '1000', body, 1000)).toBeUndefined();
    expect(checkSendGridSignature(key, sig('1000', body), '1000', body.replace('a@', 'b@'), 1000)).toBe('bad_signature');
    expect(checkSendGridSignature(key, sig('1000', body), '1000', body, 5000)).toBe('stale_timestamp');
    expect(checkSendGridSignature(key, undefined, '1000', body, 1000)).toBe('missing_signature');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    expect(sendGridPublicKey(rsa)).toBeUndefined();
  });
  it('maps the events Rivulet acts on', () => {
    const m = mapSendGridEvents(JSON.parse('[{"email":"A@x.test","timestamp":1,"event":"dropped","reason":"Bounced Address","sg_event_id":"e"},{"email":"a@x.test","timestamp":1,"event":"bounce","type":"blocked"},{"event":"delivered"}]'));
    expect(m.problems).toEqual([]);
    expect(m.ignored).toBe(1);
    expect(m.events.map((e) => [e.outcome, e.email])).toEqual([['drop', 'a@x.test'], ['soft_bounce', 'a@x.test']]);
  });
});
