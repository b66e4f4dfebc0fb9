import { describe, expect, it } from 'vitest';
import { dispatchFinished, progressLine } from './progress-bar.js';

const d = { state: 'resolved' as const, total: 200, queued: 110, sent: 80, failed: 4, aborted: 2, skipped: 3, control: 1 };

describe('the CLI progress line', () => {
  it('fills the bar by the share no longer queued and lists every count', () => {
    expect(progressLine(d, 20)).toBe('[#########-----------] 45%  90/200  queued 110  sent 80  failed 4  aborted 2  skipped 3  control 1');
    expect(progressLine({ ...d, queued: 0, sent: 190 }, 10)).toMatch(/^\[##########\] 100%  200\/200/);
  });
  it('shows an empty bar while the audience is being resolved, and an empty dispatch as 0%', () => {
    expect(progressLine({ ...d, state: 'resolving' }, 4)).toMatch(/^\[----\] resolving audience/);
    expect(progressLine({ ...d, total: 0, queued: 0, sent: 0, failed: 0, aborted: 0, skipped: 0, control: 0 }, 4)).toMatch(/^\[----\] 0%/);
  });
  it('is finished only when resolved with nothing queued', () => {
    expect(dispatchFinished({ state: 'resolved', queued: 0 })).toBe(true);
    expect(dispatchFinished({ state: 'resolved', queued: 1 })).toBe(false);
    expect(dispatchFinished({ state: 'resolving', queued: 0 })).toBe(false);
  });
});
