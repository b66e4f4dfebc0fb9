/**
 * The body of an authenticated `/import` request, from raw bytes to reply (docs/reference/mixpanel-apis.md
 * §2–§5): size and decompression, rate-limit accounting, parsing, per-record validation, storage.
 * Free of HTTP so the rules can be read in one place; the route supplies the request parts.
 */
import { bodyFormat, formFields, inflateBody, parseDataParam, parseRecords, type Parsed } from './body.js';
import type { MixpanelEmulator } from './emulator.js';
import { importError, importPartial, importSuccess, MESSAGES, type FailedRecord } from './responses.js';
import { checkImportRecord } from './validation.js';

export interface ImportRequest {
  projectId: string;
  body: Buffer;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  /** `strict=1` (the default) reports invalid records; `strict=0` drops them silently. */
  strict: boolean;
  /** A `GET /import?data=…`: the events come in this query parameter, and there is no body. */
  queryData?: string | undefined;
}

export interface ImportReply {
  status: number;
  body: Record<string, unknown>;
  /** The fields of a form-encoded body (its events were in `data`), for the reply's format. */
  form?: URLSearchParams;
}

/**
 * The reply to a request in one of the older forms (a form-encoded body or `GET ?data=`), in their
 * reply format: `1` or `0` as text, or with `verbose=1` `{"status": 1|0, "error": …}`. The HTTP
 * status stays that of the JSON reply.
 */
export function legacyReply(reply: ImportReply, verbose: boolean): string | Record<string, unknown> {
  const ok = reply.status === 200;
  if (!verbose) return ok ? '1' : '0';
  const failed = reply.body['failed_records'] as Array<{ message: string }> | undefined;
  const error = ok ? null : failed && failed.length > 0 ? `${String(reply.body['error'])}: ${failed[0]!.message}` : String(reply.body['error']);
  return { status: ok ? 1 : 0, error };
}

export function isStrict(value: unknown): boolean {
  return !(value === '0' || value === 'false');
}

export async function handleImport(emulator: MixpanelEmulator, request: ImportRequest): Promise<ImportReply> {
  const { settings } = emulator;
  const counters = emulator.projectCounters(request.projectId);

  let parsed: Parsed;
  let form: URLSearchParams | undefined;
  if (request.queryData !== undefined) {
    const bytes = Buffer.byteLength(request.queryData);
    emulator.rateLimit.record(request.projectId, bytes, emulator.now());
    counters.bytesReceived += bytes;
    parsed = parseDataParam(request.queryData, settings.maxEventsPerRequest);
  } else {
    const inflated = await inflateBody(request.body, request.contentEncoding, settings.maxBodyBytes);
    if (!inflated.ok) return { status: inflated.status, body: importError(inflated.status, inflated.error) };
    emulator.rateLimit.record(request.projectId, inflated.body.length, emulator.now());
    counters.bytesReceived += inflated.body.length;

    const format = bodyFormat(request.contentType);
    if (!format) return { status: 415, body: importError(415, MESSAGES.unsupportedMedia) };
    if (format === 'form') form = formFields(inflated.body) ?? undefined;
    parsed = parseRecords(inflated.body, format, settings.maxEventsPerRequest);
  }
  const withForm = (reply: ImportReply): ImportReply => (form ? { ...reply, form } : reply);
  if (!parsed.ok) return withForm({ status: parsed.status, body: importError(parsed.status, parsed.error) });

  const nowMs = emulator.now();
  const failed: FailedRecord[] = [];
  let imported = 0;
  const options = { surrogates: parsed.surrogates };
  const { records } = parsed;
  for (let index = 0; index < records.length; index++) {
    const check = checkImportRecord(records[index], nowMs, options);
    if (!check.ok) {
      failed.push({ index, field: check.field, message: check.message, insertId: check.insertId });
      continue;
    }
    imported += 1;
    if (check.ignored) counters.recordsIgnored += 1;
    else emulator.store.add(request.projectId, check.record, check.key);
  }
  counters.recordsImported += imported;
  counters.recordsFailed += failed.length;

  if (failed.length > 0 && request.strict) {
    return withForm({ status: 400, body: importPartial(imported, failed, settings.failedRecordIdKey) });
  }
  return withForm({ status: 200, body: importSuccess(imported) });
}
