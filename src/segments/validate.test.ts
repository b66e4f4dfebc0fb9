import { describe, expect, it } from 'vitest';
import { checkFilter, checkSegmentBody, LIMITS } from './validate.js';

const COHORT = '2f1e4a3c-9b8d-4c7e-a6f5-0123456789ab';
const partners = new Map([
  ['Mixpanel_Cohorts', 'mixpanel'],
  ['Amplitude_Cohorts', 'amplitude'],
]);
const problems = (raw: unknown) => {
  const r = checkFilter(raw, partners);
  return r.ok ? [] : r.problems;
};

describe('segment filter validation', () => {
  it('accepts every filter kind and normalizes dates to ISO-8601 UTC', () => {
    const raw = {
      or: [
        { filter: 'Amplitude_Cohorts', op: 'does_not_include', value: COHORT.toUpperCase() },
        { filter: 'custom_attribute', attribute: 'signup', op: 'greater_than', value: '2024-01-01T10:00:00+02:00' },
        { filter: 'custom_attribute', attribute: 'signup', op: 'less_than', value: '2024-02-01' },
        { filter: 'custom_attribute', attribute: 'tags', op: 'in', value: ['a', 1, false] },
        { not: { filter: 'purchase', op: 'at_most', count: 0, days: 30 } },
        { filter: 'last_session', op: 'more_than_days_ago', days: 7 },
      ],
    };
    const r = checkFilter(raw, partners);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const or = (r.value as { or: Array<Record<string, unknown>> }).or;
    expect(or[0]!.value).toBe(COHORT);
    expect(or[1]!.value).toBe('2024-01-01T08:00:00.000Z');
    expect(or[2]!.value).toBe('2024-02-01T00:00:00.000Z');
  });

  it('names the path of every problem, including unknown partners and stray keys', () => {
    expect(
      problems({
        and: [
          { filter: 'Braze_Cohorts', op: 'includes', value: COHORT },
          { filter: 'email', op: 'exists', value: 'x' },
          { filter: 'custom_attribute', attribute: '$secret', op: 'exists' },
          { filter: 'custom_attribute', attribute: 'plan', op: 'in', value: [] },
          { filter: 'custom_attribute', attribute: 'plan', op: 'equals', value: { nested: true } },
          { filter: 'custom_event', op: 'at_least', count: 1.5, days: 9999 },
          { and: [], or: [] },
          'text',
        ],
      }).map((p) => p.path),
    ).toEqual([
      'filter.and[0].filter',
      'filter.and[1].value',
      'filter.and[2].attribute',
      'filter.and[3].value',
      'filter.and[4].value',
      'filter.and[5].name',
      'filter.and[5].count',
      'filter.and[5].days',
      'filter.and[6]',
      'filter.and[7]',
    ]);
    expect(problems(undefined)).toEqual([{ path: 'filter', type: 'filter is required' }]);
  });

  it('refuses text PostgreSQL cannot store, and trees beyond the limits', () => {
    expect(problems({ filter: 'custom_attribute', attribute: 'a\u0000b', op: 'exists' })[0]?.path).toBe('filter.attribute');
    expect(problems({ filter: 'alias_label', op: 'exists', value: 'x\uD800' })[0]?.path).toBe('filter.value');
    expect(problems({ filter: 'custom_attribute', attribute: 'a', op: 'in', value: ['ok', '\u0000'] })[0]?.path).toBe('filter.value[1]');
    const wide = { or: Array.from({ length: LIMITS.nodes + 10 }, () => ({ filter: 'identity', op: 'identified' })) };
    expect(problems(wide)).toEqual([{ path: 'filter', type: `filter holds more than ${LIMITS.nodes} groups and filters` }]);
  });

  it('checks the body of create and update around the filter', () => {
    const r = checkSegmentBody({ name: '  Power  ', description: 5, filter: { and: [] } }, partners);
    expect(r.ok ? [] : r.problems).toEqual([{ path: 'description', type: 'description must be a string of at most 1000 characters, or null' }]);
    const ok = checkSegmentBody({ name: '  Power  ', filter: { and: [] } }, partners);
    expect(ok).toEqual({ ok: true, value: { name: 'Power', description: null, filter: { and: [] } } });
    expect(checkSegmentBody([], partners)).toEqual({ ok: false, problems: [{ path: 'body', type: 'the body must be a JSON object' }] });
  });
});
