/**
 * Delivery of one webhook page (docs/reference/mixpanel-apis.md §10): a JSON POST through undici with optional
 * Basic auth and a reply deadline, judged by `classifyReply`; a transient failure (429, 5xx,
 * timeout, connection error) is sent again after each of the given delays, a non-transient one is
 * not. Answers what happened; never throws.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { classifyReply, type SenderAction, type WebhookMessage } from './webhook-messages.js';

export interface DeliveryRecord {
  cohortId: string;
  action: SenderAction;
  sessionId: string;
  pageCount: number;
  totalPages: number;
  members: number;
  attempts: number;
  status: number | null;
  outcome: 'success' | 'transient' | 'non_transient';
  error: string | null;
}

export interface DeliveryTarget {
  url: string;
  basicAuth?: { username: string; password: string };
}

export interface DeliveryOptions {
  /** Waits before each retry; its length is the number of retries. */
  retryDelaysMs: readonly number[];
  timeoutMs: number;
  /** Aborts a wait or a request in flight (the sender is closing). */
  signal: AbortSignal;
}

type Attempt = { status: number; body: unknown } | { status: null; error: string };

async function post(target: DeliveryTarget, body: string, o: DeliveryOptions): Promise<Attempt> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (target.basicAuth) headers.authorization = `Basic ${Buffer.from(`${target.basicAuth.username}:${target.basicAuth.password}`).toString('base64')}`;
  try {
    const res = await request(target.url, {
      method: 'POST',
      headers,
      body,
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
      signal: AbortSignal.any([o.signal, AbortSignal.timeout(o.timeoutMs)]),
    });
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON: judged by status alone */
    }
    return { status: res.statusCode, body: parsed };
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string };
    const timedOut = e.name === 'TimeoutError' || /Timeout/i.test(e.code ?? '');
    return { status: null, error: timedOut ? `no reply within ${o.timeoutMs} ms` : `connection error: ${e.code ?? e.message ?? 'unknown'}` };
  }
}

export async function deliverPage(target: DeliveryTarget, cohortId: string, message: WebhookMessage, o: DeliveryOptions): Promise<DeliveryRecord> {
  const p = message.parameters;
  const record: DeliveryRecord = {
    cohortId,
    action: message.action,
    sessionId: p.mixpanel_session_id,
    pageCount: p.page_info.page_count,
    totalPages: p.page_info.total_pages,
    members: p.members.length,
    attempts: 0,
    status: null,
    outcome: 'transient',
    error: null,
  };
  const body = JSON.stringify(message);
  for (;;) {
    record.attempts++;
    const attempt = await post(target, body, o);
    record.status = attempt.status;
    const verdict = attempt.status === null ? { kind: 'transient' as const, message: attempt.error } : classifyReply(attempt.status, attempt.body);
    if (verdict.kind === 'success') {
      record.outcome = 'success';
      record.error = null;
      return record;
    }
    record.outcome = verdict.kind;
    record.error = verdict.message;
    if (verdict.kind === 'non_transient' || record.attempts > o.retryDelaysMs.length) return record;
    try {
      await sleep(o.retryDelaysMs[record.attempts - 1], undefined, { signal: o.signal });
    } catch {
      return record;
    }
  }
}
