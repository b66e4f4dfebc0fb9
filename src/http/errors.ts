/**
 * The error catalogue: every client-visible failure is an `ApiError` with a status, a message and
 * a list of entries that name the field at fault. The HTTP layer turns it into the JSON body
 * `{"message": ..., "errors": [...]}` (docs/reference/conventions.md). Nothing else builds error bodies.
 */
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
  ) {
    super(message);
  }

  body(): { message: string; errors: ErrorEntry[] } {
    return { message: this.message, errors: this.errors };
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
