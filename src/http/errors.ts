/**
 * The error catalogue: every client-visible failure is an `ApiError` with a status, a message and
 * a list of entries that name the field at fault. The HTTP layer turns it into the JSON body
 * `{"message": ..., "errors": [...]}` (docs/reference/conventions.md). Nothing else builds error bodies.
 *
 * Domain code throws `DomainError`s (src/errors/) with a stable code; `DOMAIN_ERROR_CATALOGUE`
 * below maps each code once to its status, message and entries, and the app's one error handler
 * (and the webhook's, which answers in Mixpanel's shape) applies it through `apiErrorOf`.
 */
/**
 * At most this many entries go into an error body; beyond, the body keeps the first ones and says
 * how many there were in `error_count` (docs/reference/conventions.md#error-bodies). A request
 * can hold hundreds of thousands of mistakes; its answer stays a few kilobytes.
 */
export const MAX_ERROR_ENTRIES = 100;
import { DomainError, type DomainErrorCode, type DomainErrorParams } from '../errors/index.js';

export interface ErrorEntry {
  type: string;
  path?: string;
  [extra: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly errors: ErrorEntry[] = [{ type: message }],
    readonly headers: Record<string, string> = {},
    /** How many problems there were when `errors` holds only the first ones (schema errors). */
    readonly errorCount: number = errors.length,
  ) {
    super(message);
  }

  body(): { message: string; errors: ErrorEntry[]; error_count?: number } {
    const total = Math.max(this.errorCount, this.errors.length);
    if (total <= MAX_ERROR_ENTRIES) return { message: this.message, errors: this.errors };
    return { message: this.message, errors: this.errors.slice(0, MAX_ERROR_ENTRIES), error_count: total };
  }
}

export const Errors = {
  invalidJson: (detail?: string) =>
    new ApiError(400, 'Invalid JSON', [{ type: detail ? `invalid JSON: ${detail}` : 'invalid JSON' }]),
  badRequest: (message: string, path?: string) => new ApiError(400, message, [{ type: message, ...(path ? { path } : {}) }]),
  allFailed: (errors: ErrorEntry[]) => new ApiError(400, 'All objects failed validation', errors),
  unauthorized: () => new ApiError(401, 'Unknown or missing REST API key'),
  forbidden: (permission: string) => new ApiError(403, `REST API key lacks the ${permission} permission`),
  notFound: (what: string) => new ApiError(404, `${what} not found`),
  tooLarge: () => new ApiError(413, 'Request body too large'),
  unsupportedMediaType: () => new ApiError(415, 'Content-Type must be application/json'),
  rateLimited: (headers: Record<string, string>) => new ApiError(429, 'Over rate limit', [{ type: 'Over rate limit' }], headers),
  unavailable: () => new ApiError(503, 'Service temporarily unavailable', [{ type: 'Service temporarily unavailable' }], { 'retry-after': '1' }),
} as const;

const UNKNOWN_COHORT = 'cohort_id does not name a known cohort; create it with the cohort name endpoint first';

/** Each domain error code → its status and body. Adding a code without an entry does not compile. */
export const DOMAIN_ERROR_CATALOGUE: { readonly [C in DomainErrorCode]: { status: number; body: (p: DomainErrorParams[C]) => { message: string; errors?: ErrorEntry[] } } } = {
  cohort_locked: { status: 423, body: () => ({ message: 'Resource locked' }) },
  unknown_cohort: { status: 400, body: () => ({ message: UNKNOWN_COHORT, errors: [{ type: UNKNOWN_COHORT, path: 'cohort_id' }] }) },
  unknown_segment: { status: 404, body: ({ id }) => ({ message: `Segment ${id} not found` }) },
  segment_name_taken: { status: 409, body: ({ name }) => ({ message: `A segment named "${name}" already exists`, errors: [{ type: 'name is taken', path: 'name' }] }) },
  unknown_user: { status: 404, body: ({ path }) => ({ message: 'User not found', errors: [{ type: 'no such user in this workspace', path }] }) },
  unknown_device: { status: 404, body: () => ({ message: 'device_id not found' }) },
  unknown_pull_connection: { status: 404, body: ({ id }) => ({ message: `Mixpanel connection ${id} not found` }) },
  invalid_cursor: {
    status: 400,
    body: () => ({ message: 'cursor is not a next_cursor this list gave', errors: [{ type: 'cursor is not a next_cursor this list gave', path: 'cursor' }] }),
  },
  pull_connection_paused: {
    status: 409,
    body: () => ({ message: 'the connection is paused; enable it first', errors: [{ type: 'connection paused', path: 'enabled' }] }),
  },
};

/** The client-visible form of an error the catalogue knows: an `ApiError` as is, a `DomainError` through its entry. */
export function apiErrorOf(err: ApiError | DomainError): ApiError {
  if (err instanceof ApiError) return err;
  const entry = DOMAIN_ERROR_CATALOGUE[err.code] as { status: number; body: (p: unknown) => { message: string; errors?: ErrorEntry[] } };
  const { message, errors } = entry.body(err.params);
  return new ApiError(entry.status, message, errors);
}
