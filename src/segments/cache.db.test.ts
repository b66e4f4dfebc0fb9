/**
 * The segment cache under many distinct conditions (issue #14.5): the dashboard's live preview
 * caches every condition typed, and 1,660 of them used to push the cache's patch query past
 * PostgreSQL's 1,664-column limit — every segment operation of the workspace then answered 500.
 * Here 50,000 distinct conditions go through one workspace (10,000 of them as preview counts over
 * HTTP, with user changes in between so that cached bitmaps are patched, the rest through an
 * evaluator directly for speed); every count is checked, the cache stays within its bounds, and
 * evicted conditions still evaluate correctly. About 25 s of test time on PGlite on a loaded 2-core
 * machine; the timeouts leave room for a much busier one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKEND } from '../test-support/db.js';
import { startTestServer, type TestServer } from '../test-support/server.js';
import { SegmentEvaluator } from './evaluator.js';
import type { FilterNode } from './filter.js';

const USERS = 30;
/** User j has n = j × STEP, so the condition n = v matches exactly when v is a multiple of STEP below USERS × STEP. */
const STEP = 1_700;
const equalsN = (value: number): FilterNode => ({ filter: 'custom_attribute', attribute: 'n', op: 'equals', value });
/** An OR of `size` distinct conditions n = from … from + size - 1, and how many users it matches. */
function batch(from: number, size: number): { filter: FilterNode; expected: number } {
  let expected = 0;
  for (let j = 0; j < USERS; j++) if (j * STEP >= from && j * STEP < from + size) expected++;
  return { filter: { or: Array.from({ length: size }, (_, i) => equalsN(from + i)) }, expected };
}

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
  const r = await s.call('POST', '/users/track', {
    attributes: Array.from({ length: USERS }, (_, j) => ({ external_id: `u${j}`, n: j * STEP, plan: j % 2 ? 'pro' : 'free' })),
  });
  expect(r.status).toBe(201);
});
afterAll(() => s?.close());

describe(`segment cache with 50,000 distinct conditions on ${TEST_BACKEND}`, () => {
  it('keeps answering correctly through the HTTP routes, with user changes patching a full cache', async () => {
    const HTTP_CONDITIONS = 10_000;
    const PER_REQUEST = 100;
    for (let from = 0, k = 0; from < HTTP_CONDITIONS; from += PER_REQUEST, k++) {
      const { filter, expected } = batch(from, PER_REQUEST);
      const r = await s.call('POST', '/admin/segments/preview-count', { filter });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.count).toBe(expected);
      // A change to a user makes the next evaluation patch every cached condition from the change log.
      if (k % 5 === 0) {
        const t = await s.call('POST', '/users/track', { attributes: [{ external_id: 'u1', visits: k }] });
        expect(t.status).toBe(201);
      }
    }

    // Every segment operation still answers, correctly.
    const created = await s.call('POST', '/admin/segments', { name: 'pro', filter: { filter: 'custom_attribute', attribute: 'plan', op: 'equals', value: 'pro' } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await s.call('GET', `/admin/segments/${id}/count`)).body).toEqual({ count: USERS / 2 });
    const members = await s.call('GET', `/admin/segments/${id}/members?limit=1000`);
    expect(members.status).toBe(200);
    expect(members.body.members.map((m: { external_id: string }) => m.external_id).sort()).toEqual(
      Array.from({ length: USERS }, (_, j) => `u${j}`)
        .filter((_, j) => j % 2)
        .sort(),
    );
    const exported = await s.call('GET', `/admin/segments/${id}/export`);
    expect(exported.status).toBe(200);
    expect(String(exported.body).trim().split('\n')).toHaveLength(USERS / 2);
    expect((await s.call('GET', `/admin/segments/${id}/membership?external_id=u1`)).body.member).toBe(true);
    expect((await s.call('GET', `/admin/segments/${id}/membership?external_id=u2`)).body.member).toBe(false);
    const updated = await s.call('PUT', `/admin/segments/${id}`, { name: 'pro', filter: { and: [equalsN(0)] } });
    expect(updated.status).toBe(200);
    expect((await s.call('GET', `/admin/segments/${id}/count`)).body).toEqual({ count: 1 });
    expect((await s.call('GET', '/admin/segments')).status).toBe(200);
    expect((await s.call('GET', '/admin/segments/filters')).status).toBe(200);
    expect((await s.call('DELETE', `/admin/segments/${id}`)).status).toBe(204);
    // An early condition (evicted long ago) still evaluates correctly, after a change to its user.
    await s.call('POST', '/users/track', { attributes: [{ external_id: 'u0', n: 1 }] });
    expect((await s.call('POST', '/admin/segments/preview-count', { filter: equalsN(0) })).body).toEqual({ count: 0 });
    expect((await s.call('POST', '/admin/segments/preview-count', { filter: equalsN(1) })).body).toEqual({ count: 1 });
    await s.call('POST', '/users/track', { attributes: [{ external_id: 'u0', n: 0 }] });
  }, 180_000);

  it('holds the cache within its entry and memory bounds; evicted conditions evaluate correctly', async () => {
    const cap = 600;
    const evaluator = new SegmentEvaluator(s.testDb.db, { maxAtomsPerWorkspace: cap, maxAtoms: 1_000, cacheBytes: 4 * 1024 * 1024 });
    const PER_FILTER = 500;
    for (let from = 10_000; from < 50_000; from += PER_FILTER) {
      const { filter, expected } = batch(from, PER_FILTER);
      expect(await evaluator.count(s.workspaceId, filter)).toBe(expected);
      const stats = evaluator.stats();
      // Everything the evaluation used (500 conditions and `everyone`) stays until the next one.
      expect(stats.atoms).toBeLessThanOrEqual(cap);
      expect(stats.bytes).toBeLessThanOrEqual(4 * 1024 * 1024);
      if (from % 5_000 === 0) await s.call('POST', '/users/track', { attributes: [{ external_id: 'u3', visits: from }] });
    }
    expect(evaluator.stats().atoms).toBeGreaterThan(cap / 2);

    // The first conditions were evicted long ago; asked again they load again and are right.
    for (const from of [0, 10_000, 20_400, 49_500]) {
      const { filter, expected } = batch(from, PER_FILTER);
      expect(await evaluator.count(s.workspaceId, filter)).toBe(expected);
    }
    expect(await evaluator.count(s.workspaceId, equalsN(STEP))).toBe(1);
    expect(await evaluator.count(s.workspaceId, { not: equalsN(STEP) })).toBe(USERS - 1);
    expect(evaluator.stats().atoms).toBeLessThanOrEqual(cap);

    // A cache too small for one evaluation still answers it, and shrinks back after.
    const tiny = new SegmentEvaluator(s.testDb.db, { maxAtomsPerWorkspace: 3 });
    const { filter, expected } = batch(0, 2 * STEP);
    expect(await tiny.count(s.workspaceId, filter)).toBe(expected);
    expect(await tiny.count(s.workspaceId, equalsN(STEP))).toBe(1);
    expect(tiny.stats().atoms).toBeLessThanOrEqual(3);
  }, 180_000);
});
