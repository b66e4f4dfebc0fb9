/**
 * The segment API's errors: a request that does not validate (an `ApiError` naming every field at
 * fault), and the domain errors of src/errors/ (mapped to HTTP in src/http/errors.ts).
 */
import { SegmentNameTaken, UnknownSegment, UnknownUser } from '../errors/index.js';
import { ApiError } from '../http/index.js';
import type { Problem } from './validate.js';

export const SegmentErrors = {
  /** Every problem found, the first one as the message. */
  invalid: (problems: Problem[]) => new ApiError(400, problems[0]?.type ?? 'invalid request', problems.map((p) => ({ type: p.type, path: p.path }))),
  nameTaken: (name: string) => new SegmentNameTaken(name),
  segmentNotFound: (id: string) => new UnknownSegment(id),
  userNotFound: (path: string) => new UnknownUser(path),
} as const;
