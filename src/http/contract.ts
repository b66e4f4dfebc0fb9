/**
 * The HTTP contract every capability shares: the one error body, and the building blocks of the
 * capability contracts (`src/<capability>/contract.ts`). Contract modules import only TypeBox, so
 * the dashboard (src/web/app) type-checks against the very schemas Fastify validates and
 * serializes with.
 */
import { Type, type TSchema } from 'typebox';

/** One entry of an error body: what is wrong, and where (a field path) when it is a field. */
export const ErrorProblem = Type.Object(
  { type: Type.String(), path: Type.Optional(Type.String()) },
  { additionalProperties: true, description: 'One problem: its description, and the path of the field at fault' },
);

/** The body of every 4xx and 5xx answer (src/http/errors.ts). */
export const ErrorBody = Type.Object(
  {
    message: Type.String(),
    errors: Type.Optional(Type.Array(ErrorProblem)),
    /** Set when there were more problems than the entries listed. */
    error_count: Type.Optional(Type.Integer()),
  },
  { additionalProperties: true, description: 'An error: a message and the problems, each naming its field' },
);

/** The error responses every route declares (added by `src/http/app.ts` where a route has none). */
export const ErrorResponses = { '4xx': ErrorBody, '5xx': ErrorBody } as const;

/** An ISO 8601 timestamp (dates are serialized as strings). */
export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** A keyset page: the items under `key`, and the cursor of the next page (null on the last one). */
export const NextCursor = Type.Union([Type.String(), Type.Null()], { description: 'cursor of the next page; null on the last page' });

/** A 204 answer has no body. */
export const NoContent = Type.Null({ description: 'No content' });
