/**
 * The error catalogue: every client-visible failure is an `ApiError` with a status, a message and
 * a list of entries that name the field at fault. The HTTP layer turns it into the JSON body
 * `{"message": ..., "errors": [...]}` (docs/reference/conventions.md). Nothing else builds error bodies.
 */
/**
 * At most this many entries go into an error body; beyond, the body keeps the first ones and says
 * how many there were in `error_count` (docs/reference/conventions.md#error-bodies). A request
 * can hold hundreds of thousands of mistakes; its answer stays a few kilobytes.
 */
export const MAX_ERROR_ENTRIES = 100;

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
