import { describe, expect, it } from 'vitest';
import {
  CohortLocked,
  DomainError,
  InvalidCursor, PullConnectionPaused,
  SegmentNameTaken,
  UnknownCohort,
  UnknownDevice,
  UnknownPullConnection,
  UnknownSegment,
  UnknownUser,
  type DomainErrorCode,
} from '../errors/index.js';
import { ApiError, apiErrorOf, DOMAIN_ERROR_CATALOGUE } from './errors.js';

/** One instance of every domain error, with the status and body the reference documents for it. */
const CASES: Array<[DomainError, number, { message: string; errors: unknown[] }]> = [
  [new CohortLocked(), 423, { message: 'Resource locked', errors: [{ type: 'Resource locked' }] }],
  [
    new UnknownCohort(),
    400,
    {
      message: 'cohort_id does not name a known cohort; create it with the cohort name endpoint first',
      errors: [{ type: 'cohort_id does not name a known cohort; create it with the cohort name endpoint first', path: 'cohort_id' }],
    },
  ],
  [new UnknownSegment('s1'), 404, { message: 'Segment s1 not found', errors: [{ type: 'Segment s1 not found' }] }],
  [new SegmentNameTaken('VIP'), 409, { message: 'A segment named "VIP" already exists', errors: [{ type: 'name is taken', path: 'name' }] }],
  [new UnknownUser('user.external_id'), 404, { message: 'User not found', errors: [{ type: 'no such user in this workspace', path: 'user.external_id' }] }],
  [new UnknownDevice(), 404, { message: 'device_id not found', errors: [{ type: 'device_id not found' }] }],
  [new UnknownPullConnection('c1'), 404, { message: 'Mixpanel connection c1 not found', errors: [{ type: 'Mixpanel connection c1 not found' }] }],
  [new InvalidCursor(), 400, { message: 'cursor is not a next_cursor this list gave', errors: [{ type: 'cursor is not a next_cursor this list gave', path: 'cursor' }] }],
  [
    new PullConnectionPaused(),
    409,
    { message: 'the connection is paused; enable it first', errors: [{ type: 'connection paused', path: 'enabled' }] },
  ],
];

describe('domain errors are mapped to HTTP once, by the catalogue', () => {
  it('covers every code', () => {
    expect(CASES.map(([e]) => e.code).sort()).toEqual((Object.keys(DOMAIN_ERROR_CATALOGUE) as DomainErrorCode[]).sort());
  });

  it.each(CASES.map(([e, status, body]) => [e.code, e, status, body] as const))('%s → its status and the documented body shape', (_code, err, status, body) => {
    expect(err).toBeInstanceOf(DomainError);
    expect(err).not.toBeInstanceOf(ApiError);
    const api = apiErrorOf(err);
    expect(api.statusCode).toBe(status);
    expect(api.body()).toEqual(body);
  });

  it('passes an ApiError through unchanged', () => {
    const err = new ApiError(418, 'teapot');
    expect(apiErrorOf(err)).toBe(err);
  });
});
