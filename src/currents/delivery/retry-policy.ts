/**
 * The retry rules of docs/reference/currents.md §3 as pure functions: what an `/import` answer means for a batch,
 * how long to wait before trying again, and how a `Retry-After` header is read. The delivery
 * engine only carries out these verdicts, so the table in the reference and this file read alike.
 */

/** What came back from one `/import` request. */
export type ImportAnswer =
  | { kind: 'response'; status: number; retryAfter: string | null; text: string }
  | { kind: 'network'; error: string };

export interface FailedRecord {
  index: number;
  insertId: string | null;
  field: string | null;
  message: string | null;
}

export type Verdict =
  /** 2xx: every event of the batch is acknowledged. */
  | { action: 'ack' }
  /** 400 with `failed_records`: those are dead-lettered, the rest were imported; never re-sent. */
  | { action: 'partial'; failed: FailedRecord[] }
  /** 413, 400 without `failed_records`, another unlisted 4xx: halve and resend; one event alone is dead-lettered. */
  | { action: 'split'; reason: 'too_large' | 'rejected'; status: number; detail: string }
  /** 401, 403, 404 (and a redirect: a misconfigured base URL): the connector fails until the batch gets through. */
  | { action: 'auth'; status: number; detail: string }
  /** 408, 429, 5xx, network errors and timeouts: back off and retry, without limit. */
  | { action: 'transient'; status: number | null; retryAfterMs: number | null; detail: string };

export const BACKOFF_START_MS = 2000;
export const BACKOFF_CAP_MS = 60_000;
export const JITTER_MIN_MS = 1000;
export const JITTER_MAX_MS = 5000;
export const RETRY_AFTER_CAP_MS = 15 * 60_000;

const DETAIL_CHARS = 500;

function detailOf(status: number, text: string): string {
  const body = text.replace(/\s+/g, ' ').trim().slice(0, DETAIL_CHARS);
  return body ? `HTTP ${status}: ${body}` : `HTTP ${status}`;
}

function readFailedRecords(text: string): FailedRecord[] | null {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return null;
  }
  const list = (body as { failed_records?: unknown } | null)?.failed_records;
  if (!Array.isArray(list) || list.length === 0) return null;
  const out: FailedRecord[] = [];
  for (const r of list) {
    if (typeof r !== 'object' || r === null) continue;
    const rec = r as Record<string, unknown>;
    // Mixpanel's reference page says "$insert_id", its OpenAPI schema "insert_id": read both.
    const id = rec['$insert_id'] ?? rec['insert_id'];
    out.push({
      index: Number.isInteger(rec['index']) ? (rec['index'] as number) : -1,
      insertId: typeof id === 'string' ? id : null,
      field: typeof rec['field'] === 'string' ? rec['field'] : null,
      message: typeof rec['message'] === 'string' ? rec['message'] : null,
    });
  }
  return out.length > 0 ? out : null;
}

/** The verdict on one answer to a batch (docs/reference/currents.md §3, "Retry rules"). */
export function judge(answer: ImportAnswer, nowMs: number): Verdict {
  if (answer.kind === 'network') return { action: 'transient', status: null, retryAfterMs: null, detail: answer.error };
  const { status, text } = answer;
  const detail = detailOf(status, text);
  if (status >= 200 && status < 300) return { action: 'ack' };
  if (status === 408 || status === 429 || status >= 500) {
    return { action: 'transient', status, retryAfterMs: parseRetryAfter(answer.retryAfter, nowMs), detail };
  }
  if (status === 401 || status === 403 || status === 404 || (status >= 300 && status < 400)) return { action: 'auth', status, detail };
  if (status === 413) return { action: 'split', reason: 'too_large', status, detail };
  if (status === 400) {
    const failed = readFailedRecords(text);
    if (failed) return { action: 'partial', failed };
  }
  return { action: 'split', reason: 'rejected', status, detail };
}

/**
 * The wait before retry number `attempt` (1 = the first retry): 2 s doubling to 60 s, plus 1–5 s
 * of jitter. `random` returns [0, 1).
 */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return base + JITTER_MIN_MS + Math.floor(random() * (JITTER_MAX_MS - JITTER_MIN_MS + 1));
}

/** A `Retry-After` of delta-seconds or an HTTP date, in ms from `nowMs`, capped at 15 min; `null` if absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  if (trimmed === '') return null;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (!Number.isFinite(at)) return null;
    ms = at - nowMs;
  }
  return Math.min(RETRY_AFTER_CAP_MS, Math.max(0, Math.round(ms)));
}

/**
 * Which event of the batch each failed record names: by `index` when the `$insert_id` there agrees
 * (or none was echoed), else by `$insert_id`. Returns batch positions with their record; records
 * that name no event of the batch are returned apart so they can be reported, never guessed.
 */
export function locateFailedRecords(
  insertIds: readonly string[],
  failed: readonly FailedRecord[],
): { located: Map<number, FailedRecord>; unlocated: FailedRecord[] } {
  const located = new Map<number, FailedRecord>();
  const unlocated: FailedRecord[] = [];
  let byId: Map<string, number> | undefined;
  for (const record of failed) {
    const atIndex = record.index >= 0 && record.index < insertIds.length ? record.index : -1;
    if (atIndex >= 0 && (record.insertId === null || insertIds[atIndex] === record.insertId)) {
      located.set(atIndex, record);
      continue;
    }
    if (record.insertId !== null) {
      byId ??= new Map(insertIds.map((id, i) => [id, i]));
      const position = byId.get(record.insertId);
      if (position !== undefined) {
        located.set(position, record);
        continue;
      }
    }
    unlocated.push(record);
  }
  return { located, unlocated };
}
