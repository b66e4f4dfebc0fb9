/** The pure schedule arithmetic: recurrences and wall-clock times in a zone. */
import { describe, expect, it } from 'vitest';
import { instantOfWall, nextRun, zoneOffsetMs } from './schedules.js';

describe('schedule arithmetic', () => {
  it('moves a recurrence on by a day, a week or a calendar month (clamped to the month end)', () => {
    const at = new Date('2026-01-31T09:30:00Z');
    expect(nextRun(at, 'day').toISOString()).toBe('2026-02-01T09:30:00.000Z');
    expect(nextRun(at, 'week').toISOString()).toBe('2026-02-07T09:30:00.000Z');
    expect(nextRun(at, 'month').toISOString()).toBe('2026-02-28T09:30:00.000Z');
    expect(nextRun(new Date('2026-12-15T00:00:00Z'), 'month').toISOString()).toBe('2027-01-15T00:00:00.000Z');
  });

  it('finds when a wall-clock time happens in a zone, across daylight saving time', () => {
    const wall = Date.UTC(2026, 6, 1, 10); // 1 July 10:00
    expect(new Date(instantOfWall(wall, 'Asia/Tokyo')).toISOString()).toBe('2026-07-01T01:00:00.000Z');
    expect(new Date(instantOfWall(wall, 'America/New_York')).toISOString()).toBe('2026-07-01T14:00:00.000Z');
    expect(new Date(instantOfWall(Date.UTC(2026, 11, 1, 10), 'America/New_York')).toISOString()).toBe('2026-12-01T15:00:00.000Z');
    expect(instantOfWall(wall, null)).toBe(wall);
    expect(zoneOffsetMs('Not/AZone', wall)).toBe(0);
  });
});
