/**
 * Error bodies stay small whatever the request (docs/reference/conventions.md#error-bodies): at most
 * 100 entries plus `error_count`, on routes with a response schema too, and an array far over its
 * schema's `maxItems` is refused before Ajv looks at each item.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKEND } from '../test-support/db.js';
import { startTestServer, type TestServer } from '../test-support/server.js';
import { MAX_ERROR_ENTRIES } from './errors.js';

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
}, 120_000);
afterAll(() => s?.close());

describe(`bounded error bodies on ${TEST_BACKEND}`, () => {
  it('lists the first 100 failed /users/track items with error_count (the route has a response schema)', async () => {
    const r = await s.call('POST', '/users/track', {
      attributes: Array.from({ length: 75 }, () => ({ a: 1 })),
      events: Array.from({ length: 75 }, () => ({ name: 'e' })),
      purchases: Array.from({ length: 75 }, () => ({ product_id: 'p' })),
    });
    expect(r.status).toBe(400);
    expect(r.body.message).toBe('All objects failed validation');
    expect(r.body.errors).toHaveLength(MAX_ERROR_ENTRIES);
    expect(r.body.error_count).toBe(225);
  });

  it('refuses 270,000 items where the schema allows 32 with one entry, without validating each', async () => {
    const started = Date.now();
    const r = await s.call('POST', '/admin/keys', { name: 'x', permissions: Array.from({ length: 270_000 }, () => 1) });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      message: 'permissions must NOT have more than 32 items',
      errors: [{ type: 'permissions must NOT have more than 32 items', path: 'permissions' }],
    });
    // Generous for a loaded machine; Ajv's walk of every item took 10 s here.
    expect(Date.now() - started).toBeLessThan(8_000);
    // Within the limit, every problem is still listed by the schema.
    const few = await s.call('POST', '/admin/keys', { name: 'x', permissions: [1, 'nope'] });
    expect(few.status).toBe(400);
    expect(few.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['permissions[0]', 'permissions[1]']));
  });
});
