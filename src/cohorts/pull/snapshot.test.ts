import { describe, expect, it } from 'vitest';
import { authorizationOf, classifyQueryReply } from './query-client.js';
import { diffIdentifiers, engageShape, identifierOf, snapshotOf } from './snapshot.js';
import { backoffMs, DEFAULT_PULL_TIMING } from './timing.js';

describe('pull snapshots', () => {
  it('asks only for what the match key needs and reads the identifier from each result', () => {
    expect(engageShape({ kind: 'distinct_id' })).toEqual({ includeAllUsers: true, outputProperties: ['$email'] });
    expect(engageShape({ kind: 'email' })).toEqual({ includeAllUsers: false, outputProperties: ['$email'] });
    expect(engageShape({ kind: 'property', name: '$braze_external_id' })).toEqual({ includeAllUsers: false, outputProperties: ['$braze_external_id'] });
    const r = { $distinct_id: 42, $properties: { $email: ' A@B.com ', $braze_external_id: 'ext-1' } };
    expect(identifierOf(r, { kind: 'distinct_id' })).toBe('42');
    expect(identifierOf(r, { kind: 'email' })).toBe('a@b.com');
    expect(identifierOf(r, { kind: 'property', name: '$braze_external_id' })).toBe('ext-1');
    expect(identifierOf({ $distinct_id: '' }, { kind: 'distinct_id' })).toBeUndefined();
    expect(identifierOf({ $distinct_id: 'x' }, { kind: 'email' })).toBeUndefined();
    expect(identifierOf({ $distinct_id: 'a\u0000b' }, { kind: 'distinct_id' })).toBeUndefined();
    expect(identifierOf({ $distinct_id: 'a\ud800' }, { kind: 'distinct_id' })).toBeUndefined();
    expect(identifierOf({ $distinct_id: 'ok \ud83d\ude00' }, { kind: 'distinct_id' })).toBe('ok \ud83d\ude00');
  });

  it('diffs snapshots into entered and left', () => {
    const before = snapshotOf(['c', 'a', 'b', 'a']);
    expect(before).toEqual(['a', 'b', 'c']);
    expect(diffIdentifiers(before, snapshotOf(['b', 'c', 'd']))).toEqual({ entered: ['d'], left: ['a'] });
    expect(diffIdentifiers([], ['x'])).toEqual({ entered: ['x'], left: [] });
  });

  it('judges query replies', () => {
    expect(classifyQueryReply(200, {}, false)).toBeNull();
    expect(classifyQueryReply(401, { error: 'Invalid credentials' }, false)).toEqual({ kind: 'auth_failed', status: 401, message: 'HTTP 401: Invalid credentials' });
    expect(classifyQueryReply(403, null, true)!.kind).toBe('auth_failed');
    expect(classifyQueryReply(429, null, true)!.kind).toBe('transient');
    expect(classifyQueryReply(502, null, false)!.kind).toBe('transient');
    expect(classifyQueryReply(400, { error: 'session expired' }, true)!.kind).toBe('session_rejected');
    expect(classifyQueryReply(400, { error: 'cohort not found' }, false)!.kind).toBe('rejected');
    expect(authorizationOf({ kind: 'api_secret', secret: 's' })).toBe(`Basic ${Buffer.from('s:').toString('base64')}`);
  });

  it('backs off from 60 s, doubling to 300 s', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(DEFAULT_PULL_TIMING, n))).toEqual([60_000, 120_000, 240_000, 300_000, 300_000]);
  });
});
