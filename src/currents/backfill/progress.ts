/**
 * The backfill progress bar, as text: `[████████░░░░░░░░] 52.1%  104,200/200,000 events  8,912 ev/s …`.
 * Pure, so the CLI only decides when and where (stderr) to draw it.
 */
import type { BackfillProgress } from './backfill.js';

const WIDTH = 24;
const n = (v: number) => v.toLocaleString('en-US');

export function formatProgress(p: BackfillProgress, elapsedMs: number): string {
  const fraction = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const filled = Math.round(fraction * WIDTH);
  const rate = elapsedMs > 0 ? Math.round((p.done * 1000) / elapsedMs) : 0;
  const parts = [
    `[${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}]`,
    `${(fraction * 100).toFixed(1).padStart(5)}%`,
    `${n(p.done)}/${n(p.total)} events`,
    `${n(rate)} ev/s`,
    `sent ${n(p.sent)} · skipped ${n(p.skipped)} · dead-lettered ${n(p.deadLettered)}`,
  ];
  if (p.retries > 0) parts.push(`retries ${n(p.retries)}`);
  if (p.health === 'failed') parts.push('waiting: Mixpanel refuses the credentials, retrying');
  return parts.join('  ');
}
