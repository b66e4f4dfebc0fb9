/**
 * "Test the connection" of a Mixpanel export: one real `POST /import` to the connector's host with
 * its credentials and a probe record that is invalid on purpose (it has no `time`). With
 * `strict=1`, Mixpanel checks auth (and the service account's role on the project) first, then
 * validates each record; the probe fails validation, so the answer is a 400 with `failed_records`
 * and nothing is imported. That proves host, credentials, role and project id without putting a
 * test event into a customer's project — unlike a valid event, and without relying on `$ignore`,
 * which only the emulator documents.
 */
import type { ImportAnswer } from '../delivery/retry-policy.js';
import { serializeBatch } from '../mixpanel/batching.js';

export const CONNECTION_PROBE = [
  { event: 'Rivulet connection test', properties: { distinct_id: 'rivulet-connection-test', $insert_id: 'rivulet-connection-test' } },
];

export interface ConnectionTestResult {
  ok: boolean;
  /** The HTTP status Mixpanel answered, `null` when it could not be reached. */
  status: number | null;
  message: string;
  detail: string | null;
}

function failedRecords(text: string): boolean {
  try {
    const body = JSON.parse(text) as { failed_records?: unknown };
    return Array.isArray(body.failed_records) && body.failed_records.length > 0;
  } catch {
    return false;
  }
}

/** Reads the answer to the probe. Pure. */
export function judgeProbe(answer: ImportAnswer): ConnectionTestResult {
  if (answer.kind === 'network') return { ok: false, status: null, message: 'Mixpanel could not be reached', detail: answer.error };
  const { status, text } = answer;
  const detail = text.replace(/\s+/g, ' ').trim().slice(0, 500) || null;
  if (status === 400 && failedRecords(text)) {
    return { ok: true, status, message: 'Credentials accepted; the probe record was rejected on purpose and nothing was imported', detail: null };
  }
  if (status >= 200 && status < 300) return { ok: true, status, message: 'Credentials accepted', detail: null };
  if (status === 401) return { ok: false, status, message: 'Mixpanel rejected the credentials', detail };
  if (status === 403) return { ok: false, status, message: 'The service account lacks the Owner or Admin role on this project', detail };
  if (status === 404) return { ok: false, status, message: 'Mixpanel does not know this project or path (check project id, region and base URL)', detail };
  if (status === 429) return { ok: true, status, message: 'Credentials accepted, but the project is over its rate limit right now', detail };
  if (status >= 500) return { ok: false, status, message: 'Mixpanel is unavailable right now; try again', detail };
  return { ok: false, status, message: `Unexpected answer HTTP ${status}`, detail };
}

export async function testConnection(send: (body: string) => Promise<ImportAnswer>): Promise<ConnectionTestResult> {
  return judgeProbe(await send(serializeBatch(CONNECTION_PROBE)));
}
