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

/** The caller's workspace (`GET /admin/workspace`). */
export const Workspace = Type.Object({ id: Type.String(), name: Type.String(), created_at: Timestamp, rest_endpoint: Type.String() });

/** A REST API key as the admin API shows it: its prefix, never the secret. */
export const ApiKey = Type.Object({
  prefix: Type.String(),
  name: Type.String(),
  workspace_id: Type.String(),
  permissions: Type.Array(Type.String()),
  created_at: Timestamp,
  last_used_at: NullableTimestamp,
  revoked_at: NullableTimestamp,
  state: Type.Union([Type.Literal('active'), Type.Literal('revoked')]),
});
export const ApiKeyPage = Type.Object({ keys: Type.Array(ApiKey), next_cursor: NextCursor });
/** A new key: the secret is in this answer only. */
export const NewApiKey = Type.Intersect([ApiKey, Type.Object({ key: Type.String() })]);
