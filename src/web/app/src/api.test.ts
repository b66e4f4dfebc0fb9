/**
 * The dashboard's API client checks every answer against its route's response schema: a matching
 * answer comes back typed by the check, one that does not match becomes an `ApiFailure` naming the
 * route and the fields at fault, which a page shows as it shows any failed request.
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { Type } from 'typebox';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiFailure, del, get, post } from './api';
import { ErrorMessage } from './components/feedback';
import { NoContent, SegmentCount } from './types';

function answer(status: number, body: string) {
  // A 204 has no body at all (a Response refuses even an empty one).
  const fetch = vi.fn(async () => new Response(status === 204 ? null : body, { status, headers: { 'content-type': 'application/json' } }));
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('the API client checks answers against the contract', () => {
  it('returns an answer that matches its schema', async () => {
    answer(200, '{"count": 7}');
    const r = await get(SegmentCount, '/admin/segments/s1/count');
    expect(r.count).toBe(7);
  });

  it('turns an answer that does not match into an ApiFailure naming the route and the field', async () => {
    answer(200, '{"count": "seven", "other": 1}');
    const failure = await get(SegmentCount, '/admin/segments/s1/count?x=1').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiFailure);
    const f = failure instanceof ApiFailure ? failure : undefined;
    expect(f?.message).toBe("The server's answer to GET /admin/segments/s1/count does not match what this dashboard expects (is the server of another version?)");
    expect(f?.details).toEqual([expect.stringMatching(/^\/count: .*integer/)]);
    // The page shows it like any failed request: the action, the message and the field.
    const html = renderToStaticMarkup(createElement(ErrorMessage, { error: f!, action: 'load the count' }));
    expect(html).toContain('role="alert"');
    expect(html).toContain('Could not load the count: ');
    expect(html).toContain('does not match what this dashboard expects');
    expect(html).toMatch(/<li>\/count: [^<]*integer[^<]*<\/li>/);
  });

  it('says so when the answer is not JSON at all (a proxy page)', async () => {
    answer(200, '<html>gateway</html>');
    const failure = await post(Type.Object({ id: Type.String() }), '/admin/segments', {}).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiFailure);
    expect(failure instanceof ApiFailure && failure.details).toEqual([expect.stringContaining('(the whole answer)')]);
  });

  it('reads an empty 204 as the contract’s NoContent', async () => {
    answer(204, '');
    await expect(del(NoContent, '/admin/segments/s1')).resolves.toBeNull();
  });

  it('still reports error answers by their message, without a schema check', async () => {
    answer(400, '{"message": "The filter is not valid", "errors": [{"type": "must be a string", "path": "name"}]}');
    const failure = await post(SegmentCount, '/admin/segments/preview-count', {}).catch((e: unknown) => e);
    expect(failure instanceof ApiFailure && [failure.status, failure.message, failure.details]).toEqual([400, 'The filter is not valid', ['name: must be a string']]);
  });
});
