/**
 * Mixpanel's per-project ingestion limit (docs/reference/mixpanel-apis.md §7): uncompressed bytes received in
 * a rolling 60-second window. A request is refused once the window already holds the limit, so
 * the request that crosses it still lands and the next one gets 429.
 */

export const DEFAULT_RATE_LIMIT_BYTES = 2 * 1024 ** 3;
const WINDOW_MS = 60_000;

interface Window {
  entries: { atMs: number; bytes: number }[];
  head: number;
  total: number;
}

export class RollingByteLimit {
  private readonly windows = new Map<string, Window>();

  constructor(public limitBytes: number = DEFAULT_RATE_LIMIT_BYTES) {}

  /** Bytes received for the project in the 60 s up to `nowMs`. */
  usage(projectId: string, nowMs: number): number {
    const window = this.windows.get(projectId);
    if (!window) return 0;
    while (window.head < window.entries.length && window.entries[window.head]!.atMs <= nowMs - WINDOW_MS) {
      window.total -= window.entries[window.head]!.bytes;
      window.head += 1;
    }
    if (window.head > 1024 && window.head * 2 > window.entries.length) {
      window.entries.splice(0, window.head);
      window.head = 0;
    }
    return window.total;
  }

  exceeded(projectId: string, nowMs: number): boolean {
    return this.usage(projectId, nowMs) >= this.limitBytes;
  }

  record(projectId: string, bytes: number, nowMs: number): void {
    let window = this.windows.get(projectId);
    if (!window) {
      window = { entries: [], head: 0, total: 0 };
      this.windows.set(projectId, window);
    }
    window.entries.push({ atMs: nowMs, bytes });
    window.total += bytes;
  }

  clear(): void {
    this.windows.clear();
  }
}
