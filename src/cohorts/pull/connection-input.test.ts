import { describe, expect, it } from 'vitest';
import { ApiError } from '../../http/errors.js';
import { readConnection } from './connection-input.js';
import { checkBaseUrl, queryHost } from './hosts.js';

const valid = { project_id: 123, service_account: { username: 'sa', secret: 'abcdef' }, cohort_ids: [456, '789', 456] };

function problems(body: unknown, partial = false): Array<{ type: string; path?: string }> {
  try {
    readConnection(body, partial);
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).statusCode).toBe(400);
    return (err as ApiError).errors as Array<{ type: string; path?: string }>;
  }
  return [];
}

describe('Mixpanel connection input', () => {
  it('fills the defaults of a new connection', () => {
    expect(readConnection(valid, false)).toEqual({
      projectId: '123',
      name: 'Mixpanel project 123',
      mixpanelWorkspaceId: null,
      region: 'US',
      baseUrl: null,
      credentials: { kind: 'service_account', username: 'sa', secret: 'abcdef' },
      cohortIds: ['456', '789'],
      mode: 'dynamic',
      intervalSeconds: 900,
      matchKey: 'distinct_id',
      queryBudget: 60,
      enabled: true,
    });
    expect(readConnection({ ...valid, service_account: undefined, api_secret: 'legacy', region: 'eu', match_key: 'property:$braze_external_id' }, false)).toMatchObject({
      credentials: { kind: 'api_secret', secret: 'legacy' },
      region: 'EU',
      matchKey: 'property:$braze_external_id',
    });
  });

  it('names every field at fault', () => {
    const found = problems({
      project_id: 'not a project!',
      region: 'APAC',
      base_url: 'ftp://x',
      cohort_ids: [],
      mode: 'sometimes',
      interval_minutes: 4,
      match_key: 'phone',
      query_budget: 61,
      enabled: 'yes',
      colour: 'blue',
    });
    expect(found.map((e) => e.path)).toEqual([
      'colour',
      'project_id',
      'region',
      'base_url',
      'service_account',
      'cohort_ids',
      'mode',
      'interval_minutes',
      'match_key',
      'query_budget',
      'enabled',
    ]);
    expect(found.find((e) => e.path === 'interval_minutes')!.type).toBe('interval_minutes must be an integer from 5 to 10080');
    expect(problems({ ...valid, api_secret: 'x' })).toEqual([{ type: 'give either service_account or api_secret, not both', path: 'service_account' }]);
    expect(problems({ ...valid, service_account: { username: '' } }).map((e) => e.path)).toEqual(['service_account.username', 'service_account.secret']);
    expect(problems({ ...valid, cohort_ids: [1, 'a b'] })).toEqual([{ type: 'cohort_ids[1] must be a Mixpanel cohort id', path: 'cohort_ids[1]' }]);
    expect(problems([1])).toEqual([{ type: 'the body must be a JSON object', path: 'body' }]);
    // Text PostgreSQL cannot store is refused rather than answered with a 500.
    expect(problems({ ...valid, name: 'a\u0000b', service_account: { username: 'sa', secret: 'x\ud800' } }).map((e) => e.path)).toEqual(['name', 'service_account.secret']);
  });

  it('reads an update without defaults', () => {
    expect(readConnection({ interval_minutes: 5, enabled: false }, true)).toEqual({ intervalSeconds: 300, enabled: false });
    expect(readConnection({ base_url: null }, true)).toEqual({ baseUrl: null });
  });

  it('restricts base_url to plain http(s) and picks the region host otherwise', () => {
    expect(checkBaseUrl('http://127.0.0.1:4000/')).toEqual({ ok: true, url: 'http://127.0.0.1:4000' });
    expect(checkBaseUrl('https://proxy.example/mixpanel/')).toEqual({ ok: true, url: 'https://proxy.example/mixpanel' });
    for (const bad of ['file:///etc/passwd', 'javascript:alert(1)', 'http://u:p@host', 'http://host/?a=1', 'nope']) expect(checkBaseUrl(bad).ok).toBe(false);
    expect([queryHost('US', null), queryHost('EU', null), queryHost('IN', null)]).toEqual(['https://mixpanel.com', 'https://eu.mixpanel.com', 'https://in.mixpanel.com']);
    expect(queryHost('EU', 'http://127.0.0.1:1')).toBe('http://127.0.0.1:1');
  });
});
