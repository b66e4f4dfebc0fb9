/**
 * Bounded work per segment request (docs/reference/segments.md#limits): a huge invalid filter gets
 * a small 400 at once, error bodies list at most 100 problems with their count, a slow segment
 * query is stopped by the statement timeout (503) without holding other requests, and the CSV
 * export neutralizes spreadsheet formulas.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ERROR_ENTRIES } from '../http/errors.js';
import { TEST_BACKEND } from '../test-support/db.js';
import { startTestServer, type TestServer } from '../test-support/server.js';
import { writeUsers } from './test-support/population.js';
import { LIMITS } from './validate.js';

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({ RIVULET_SEGMENT_STATEMENT_TIMEOUT_MS: '400' });
}, 120_000);
afterAll(() => s?.close());

describe(`bounded segment requests on ${TEST_BACKEND}`, () => {
  it('answers a 270,000-leaf invalid filter with one small 400 that names the limit', async () => {
    const leaves = Array.from({ length: 270_000 }, () => ({}));
    const started = Date.now();
    const r = await s.call('POST', '/admin/segments/preview-count', { filter: { or: leaves } });
    const elapsed = Date.now() - started;
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      message: `filter holds more than ${LIMITS.nodes} groups and filters`,
      errors: [{ path: 'filter', type: `filter holds more than ${LIMITS.nodes} groups and filters` }],
    });
    // Without the early size check the body listed every leaf (53 MB at 270,000 leaves).
    expect(JSON.stringify(r.body).length).toBeLessThan(1000);
    // Generous: the answer is a few milliseconds of work even on a loaded machine.
    expect(elapsed).toBeLessThan(20_000);

    // 5,000 levels, built as text.
    const raw = `{"filter":${'{"not":'.repeat(5000)}{}${'}'.repeat(5000)}}`;
    const tooDeep = await s.call('POST', '/admin/segments', undefined, { raw: `{"name":"deep",${raw.slice(1)}` });
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.errors).toEqual([{ path: 'filter', type: `filter nests deeper than ${LIMITS.depth} groups` }]);
  });

  it('lists the first 100 problems of an invalid body with the total in error_count', async () => {
    const leaves = Array.from({ length: 400 }, (_, i) => ({ filter: 'custom_attribute', attribute: `a${i}`, op: 'equals', value: { not: 'a scalar' } }));
    const r = await s.call('POST', '/admin/segments', { name: 'too many problems', filter: { or: leaves } });
    expect(r.status).toBe(400);
    expect(r.body.errors).toHaveLength(MAX_ERROR_ENTRIES);
    expect(r.body.error_count).toBe(400);
    expect(r.body.errors[0]).toEqual({ path: 'filter.or[0].value', type: 'filter.or[0].value must be a string (at most 255 characters), a number or a boolean' });
    expect(r.body.errors[99].path).toBe('filter.or[99].value');

    // A body with few problems keeps the plain shape.
    const few = await s.call('POST', '/admin/segments', { name: '', filter: { and: [] } });
    expect(few.status).toBe(400);
    expect(few.body).not.toHaveProperty('error_count');
  });

  it('exports CSV cells that a spreadsheet would run as a formula with a leading apostrophe', async () => {
    const ids = ['=HYPERLINK("http://evil.example","x")', '+1+1', '-2+3', '@SUM(A1)', '\tTAB', '\rCR', 'plain', 'a=b'];
    await s.call('POST', '/users/track', { attributes: ids.map((external_id) => ({ external_id, csv_case: true })) });
    const seg = await s.call('POST', '/admin/segments', { name: 'csv cases', filter: { filter: 'custom_attribute', attribute: 'csv_case', op: 'equals', value: true } });
    expect(seg.status).toBe(201);
    const csv = await s.call('GET', `/admin/segments/${seg.body.id}/export?format=csv`);
    expect(csv.status).toBe(200);
    const cells = (csv.body as string)
      .split('\n')
      .slice(1, -1)
      .map((line) => line.slice(37, line.length - 2));
    expect(cells.sort()).toEqual(
      [`"'=HYPERLINK(""http://evil.example"",""x"")"`, "'+1+1", "'-2+3", "'@SUM(A1)", "'\tTAB", `"'\rCR"`, 'plain', 'a=b'].sort(),
    );
    // NDJSON is data, not a spreadsheet: it keeps the ids as they are.
    const ndjson = await s.call('GET', `/admin/segments/${seg.body.id}/export`);
    const exported = (ndjson.body as string)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).external_id);
    expect(exported.sort()).toEqual([...ids].sort());
  });

  // PGlite runs its one backend inside this process's thread and cannot be interrupted, so the
  // timeout is PostgreSQL's (src/segments/statement-timeout.ts).
  it.skipIf(TEST_BACKEND !== 'postgres')(
    'stops a slow segment query at the statement timeout with a 503, while other requests answer',
    async () => {
      const filler = 'lorem ipsum dolor sit amet '.repeat(60);
      for (let chunk = 0; chunk < 10; chunk++) {
        await writeUsers(
          s.testDb.db,
          s.workspaceId,
          Array.from({ length: 2000 }, (_, i) => ({ external_id: `slow-${chunk}-${i}`, custom_attributes: { bio: `${filler}${chunk}-${i}` } })),
        );
      }
      // 300 `contains` conditions over 20,000 long strings: many seconds of strpos without a timeout.
      const expensive = { or: Array.from({ length: 300 }, (_, i) => ({ filter: 'custom_attribute', attribute: 'bio', op: 'contains', value: `needle-${i}` })) };
      let expensiveDoneAt = 0;
      const slow = s.call('POST', '/admin/segments/preview-count', { filter: expensive }).then((r) => {
        expensiveDoneAt = Date.now();
        return r;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const cheap = await s.call('POST', '/users/export/ids', { external_ids: ['slow-0-0'] });
      const cheapDoneAt = Date.now();
      const r = await slow;
      expect(cheap.status).toBe(200);
      expect(cheap.body.users).toHaveLength(1);
      expect(r.status).toBe(503);
      expect(r.body.message).toMatch(/ran longer than 400 ms and was stopped.*RIVULET_SEGMENT_STATEMENT_TIMEOUT_MS/);
      expect(r.body.errors).toEqual([{ type: 'segment query timed out', timeout_ms: 400 }]);
      expect(r.headers['retry-after']).toBe('5');
      expect(cheapDoneAt).toBeLessThanOrEqual(expensiveDoneAt);
      // The evaluator is not left stuck: a cheap count of the same workspace answers.
      const ok = await s.call('POST', '/admin/segments/preview-count', { filter: { filter: 'identity', op: 'identified' } });
      expect(ok.status).toBe(200);
      expect(ok.body.count).toBeGreaterThanOrEqual(20_000);
    },
    180_000,
  );
});
