/** A dispatch's progress as one line of text with a bar, for `rivulet campaigns progress`. Pure. */
import type { DispatchProgress } from './dashboard-store.js';

export function progressLine(d: Pick<DispatchProgress, 'state' | 'total' | 'queued' | 'sent' | 'failed' | 'aborted' | 'skipped' | 'control'>, width = 30): string {
  const done = d.total - d.queued;
  const fraction = d.total ? done / d.total : 0;
  const filled = d.state === 'resolving' ? 0 : Math.round(fraction * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const pct = d.state === 'resolving' ? 'resolving audience' : `${Math.floor(fraction * 100)}%`;
  return `${bar} ${pct}  ${done}/${d.total}  queued ${d.queued}  sent ${d.sent}  failed ${d.failed}  aborted ${d.aborted}  skipped ${d.skipped}  control ${d.control}`;
}

/** Whether a dispatch has nothing left to do. */
export function dispatchFinished(d: Pick<DispatchProgress, 'state' | 'queued'>): boolean {
  return d.state === 'resolved' && d.queued === 0;
}
