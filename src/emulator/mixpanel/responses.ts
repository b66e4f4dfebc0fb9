/**
 * The bodies `/import` answers with (docs/reference/mixpanel-apis.md §5). Every emulator reply to `/import`
 * is built here, so a status code always comes with Mixpanel's `{code, status, ...}` shape.
 */

const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function statusText(code: number): string {
  return STATUS_TEXT[code] ?? (code >= 500 ? 'Server Error' : 'Error');
}

export interface FailedRecord {
  index: number;
  field: string;
  message: string;
  /** Echoed as given in the record, or `null` when it had none. */
  insertId: unknown;
}

export type FailedRecordIdKey = '$insert_id' | 'insert_id';

export const MESSAGES = {
  unauthorized: 'Invalid credentials',
  forbidden: 'service account lacks Owner or Admin on this project',
  rateLimited: 'Project exceeded rate limits. Please retry the request with exponential backoff.',
  unsupportedMedia: 'unsupported Content-Type or Content-Encoding',
  partial: 'some data points in the request failed validation',
  injected: 'injected fault',
  tooLarge: (maxBytes: number) => `request exceeds max limit of ${maxBytes} bytes`,
} as const;

export function importSuccess(imported: number) {
  return { code: 200, num_records_imported: imported, status: statusText(200) };
}

export function importPartial(imported: number, failed: readonly FailedRecord[], idKey: FailedRecordIdKey) {
  return {
    code: 400,
    error: MESSAGES.partial,
    num_records_imported: imported,
    status: statusText(400),
    failed_records: failed.map((f) => ({ index: f.index, [idKey]: f.insertId ?? null, field: f.field, message: f.message })),
  };
}

export function importError(code: number, error: string) {
  return { code, error, status: statusText(code) };
}
