import { describe, expect, it } from 'vitest';
import { originAllowed, parseOrigin } from './origins.js';
import { mapBatch } from './batch.js';

describe('SDK allowed origins', () => {
  it('canonicalises origins and refuses anything with a path, query or other scheme', () => {
    expect(parseOrigin('https://Shop.Example.com/')).toEqual({ ok: true, origin: 'https://shop.example.com' });
    expect(parseOrigin('http://127.0.0.1:8080')).toEqual({ ok: true, origin: 'http://127.0.0.1:8080' });
    expect(parseOrigin('https://shop.example.com/path').ok).toBe(false);
    expect(parseOrigin('https://shop.example.com/?q=1').ok).toBe(false);
    expect(parseOrigin('ftp://shop.example.com').ok).toBe(false);
    expect(parseOrigin('shop.example.com').ok).toBe(false);
  });

  it('matches the Origin header exactly, port and scheme included', () => {
    const allowed = ['https://shop.example.com'];
    expect(originAllowed('https://shop.example.com', allowed)).toBe(true);
    expect(originAllowed('http://shop.example.com', allowed)).toBe(false);
    expect(originAllowed('https://shop.example.com:8443', allowed)).toBe(false);
    expect(originAllowed('https://shop.example.com.evil.net', allowed)).toBe(false);
    expect(originAllowed('null', allowed)).toBe(false);
    expect(originAllowed(undefined, allowed)).toBe(false);
  });
});

describe('SDK upload mapping', () => {
  const time = '2026-01-01T00:00:00Z';
  it('names every malformed event field and refuses identifier attributes', () => {
    try {
      mapBatch({
        device_id: 'd',
        events: [
          { id: 'aaaaaaaa', type: 'purchase', product_id: 'p', price: 1, time },
          { id: 'bbbbbbbb', type: 'attributes', attributes: { external_id: 'x' }, time },
          { id: 'bbbbbbbb', type: 'custom_event', name: 'n', time },
          { id: 'cccccccc', type: 'custom_event', name: 'n', time: 'yesterday' },
        ],
      });
      expect.unreachable();
    } catch (err: any) {
      expect(err.statusCode).toBe(400);
      expect(err.errors.map((e: any) => e.path)).toEqual(['events[0].currency', 'events[1].attributes.external_id', 'events[2].id', 'events[3].time']);
    }
  });

  it('maps a custom event to a /users/track item for the device user', () => {
    const [e] = mapBatch({ device_id: 'd', events: [{ id: 'aaaaaaaa', type: 'custom_event', name: 'n', properties: { a: 1 }, time }] });
    expect(e!.op.kind).toBe('track');
    if (e!.op.kind === 'track') expect(e!.op.body('u1', 'app1')).toEqual({ events: [{ braze_id: 'u1', app_id: 'app1', name: 'n', time, properties: { a: 1 } }] });
  });
});
