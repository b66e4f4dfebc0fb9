/** Launch validation and the Delay clock, pure. */
import { describe, expect, it } from 'vitest';
import { checkCanvasBody, graphProblems, matchesEvent } from './definition.js';
import { delayEnd, nextWeekdayTime } from './engine.js';

const body = (steps: unknown[], over: Record<string, unknown> = {}) => ({ name: 'C', entry: { type: 'api' }, from: { address: 'a@b.co' }, steps, ...over });
const msg = (id: string, next: string | null) => ({ id, type: 'message', email: { subject: 's', html: 'h' }, next });

describe('Canvas launch validation', () => {
  it('accepts a journey with paths that end, and fills defaults', () => {
    const r = checkCanvasBody(body([msg('a', 'w'), { id: 'w', type: 'delay', delay: { seconds: 60 }, next: 'a' }]));
    expect(r.problems).toBeUndefined();
    expect(r.input!.definition).toMatchObject({ first_step_id: 'a', re_entry: 'off', entry_limit: null, control_percent: 0, variant: { id: 'variant-1' } });
  });

  it('names the step on a cycle without a delay, a dangling next, an unreachable step', () => {
    expect(checkCanvasBody(body([msg('a', 'b'), { id: 'b', type: 'user_update', attributes: { x: 1 }, next: 'a' }])).problems![0]!.message).toContain('cycle without a delay');
    expect(checkCanvasBody(body([msg('a', 'zz')])).problems).toEqual([{ field: 'steps[0] (id "a")', message: expect.stringContaining('"zz"') }]);
    expect(checkCanvasBody(body([msg('a', null), msg('b', null)])).problems).toEqual([{ field: 'steps[1] (id "b")', message: 'is unreachable from the first step' }]);
    expect(checkCanvasBody(body([{ id: 'a', type: 'message', email: { subject: 's', html: 'h' } }])).problems![0]).toMatchObject({ field: 'steps[0] (id "a").next', message: expect.stringContaining('no end') });
    expect(checkCanvasBody(body([{ id: 'a', type: 'message', email: { subject: '', html: 'h' }, next: null }])).problems![0]).toMatchObject({ field: 'steps[0] (id "a").email.subject', message: expect.stringContaining('missing content') });
    expect(checkCanvasBody(body([{ id: 'x', type: 'experiment_paths', paths: [{ percent: 50, next: null }], control_percent: 10 }])).problems![0]!.message).toContain('add up to 100');
    expect(checkCanvasBody(body([{ id: 'x', type: 'teleport' }])).problems![0]!.field).toBe('steps[0] (id "x").type');
  });

  it('lets an Action Paths step close a loop', () => {
    const steps = [msg('a', 'p'), { id: 'p', type: 'action_paths', paths: [{ event: { kind: 'purchase' }, next: 'a' }], everyone_else: null }];
    expect(checkCanvasBody(body(steps)).problems).toBeUndefined();
    expect(graphProblems({ first_step_id: 'missing', steps: [] })).toEqual([{ field: 'first_step_id', message: 'no step has id "missing"' }]);
  });

  it('matches custom events by name and properties, purchases by product', () => {
    const ev = { event_type: 'users.behaviors.CustomEvent', properties: { name: 'browse', custom_properties: { item: 'boots' } } };
    expect(matchesEvent({ kind: 'custom_event', name: 'browse', properties: { item: 'boots' } }, ev)).toBe(true);
    expect(matchesEvent({ kind: 'custom_event', name: 'browse', properties: { item: 'hats' } }, ev)).toBe(false);
    expect(matchesEvent({ kind: 'purchase', product_id: 'p1' }, { event_type: 'users.behaviors.Purchase', properties: { product_id: 'p1' } })).toBe(true);
    expect(matchesEvent({ kind: 'purchase' }, ev)).toBe(false);
  });
});

describe('Delay', () => {
  const now = Date.parse('2026-12-07T21:00:00Z'); // a Monday
  it('waits a duration, until a date (past: the entry ends), until a weekday and time in the user zone', () => {
    expect(delayEnd({ id: 'd', name: 'd', type: 'delay', delay: { seconds: 3600 }, next: null }, now, null)).toBe(now + 3_600_000);
    expect(delayEnd({ id: 'd', name: 'd', type: 'delay', delay: { until: '2026-01-01T00:00:00Z' }, next: null }, now, null)).toBeNull();
    // Wednesday 09:00 in New York (UTC-5 in December) is 14:00 UTC.
    expect(new Date(nextWeekdayTime(now, 3, '09:00', 'America/New_York')).toISOString()).toBe('2026-12-09T14:00:00.000Z');
    // Monday 08:00 in Tokyo has passed (it is Tuesday 06:00 there): next Monday, 23:00 UTC Sunday.
    expect(new Date(nextWeekdayTime(now, 1, '08:00', 'Asia/Tokyo')).toISOString()).toBe('2026-12-13T23:00:00.000Z');
    expect(new Date(nextWeekdayTime(now, 1, '22:00', 'UTC')).toISOString()).toBe('2026-12-07T22:00:00.000Z');
  });
});
