/** The segment API's entries in the error catalogue: each names the field at fault. */
import { ApiError, Errors } from '../http/index.js';
import type { Problem } from './validate.js';

export const SegmentErrors = {
  /** Every problem found, the first one as the message. */
  invalid: (problems: Problem[]) => new ApiError(400, problems[0]?.type ?? 'invalid request', problems.map((p) => ({ type: p.type, path: p.path }))),
  nameTaken: (name: string) => new ApiError(409, `A segment named "${name}" already exists`, [{ type: 'name is taken', path: 'name' }]),
  segmentNotFound: (id: string) => Errors.notFound(`Segment ${id}`),
  userNotFound: (path: string) => new ApiError(404, 'User not found', [{ type: 'no such user in this workspace', path }]),
} as const;
