/**
 * Domain errors: what a capability's logic throws when a request cannot be done, with a stable
 * `code` and the parameters its message needs, and nothing about HTTP. The HTTP layer maps each
 * code once to a status, a message and the entries naming the field at fault
 * (`DOMAIN_ERROR_CATALOGUE` in src/http/errors.ts, like Fastify's own error registry), so domain
 * code never picks a status and the error bodies keep one shape (docs/reference/conventions.md).
 *
 * Input validation at the edge (a body's shape, a field's type) stays an `ApiError` built by the
 * route's parser: it is already the HTTP contract.
 */

/** Every code, with the parameters its message template needs. */
export interface DomainErrorParams {
  /** The cohort's lock was not granted in time (another change to the same cohort is running). */
  cohort_locked: Record<string, never>;
  /** The cohort to change does not exist (or was deleted since it was read); nothing was applied. */
  unknown_cohort: Record<string, never>;
  unknown_segment: { id: string };
  segment_name_taken: { name: string };
  /** No user in the workspace for the identifier at `path`. */
  unknown_user: { path: string };
  /** No profile holds the device id (SDK session end, change of user). */
  unknown_device: Record<string, never>;
  unknown_pull_connection: { id: string };
  pull_connection_paused: Record<string, never>;
  /** A list's `cursor` is not a `next_cursor` that list gave (malformed, forged, or of another list). */
  invalid_cursor: Record<string, never>;
}

export type DomainErrorCode = keyof DomainErrorParams;

export class DomainError<C extends DomainErrorCode = DomainErrorCode> extends Error {
  constructor(
    readonly code: C,
    readonly params: DomainErrorParams[C],
  ) {
    super(code);
    this.name = new.target.name;
  }
}

export function isDomainError<C extends DomainErrorCode>(err: unknown, code?: C): err is DomainError<C> {
  return err instanceof DomainError && (code === undefined || err.code === code);
}

export class CohortLocked extends DomainError<'cohort_locked'> {
  constructor() {
    super('cohort_locked', {});
  }
}

export class UnknownCohort extends DomainError<'unknown_cohort'> {
  constructor() {
    super('unknown_cohort', {});
  }
}

export class UnknownSegment extends DomainError<'unknown_segment'> {
  constructor(id: string) {
    super('unknown_segment', { id });
  }
}

export class SegmentNameTaken extends DomainError<'segment_name_taken'> {
  constructor(name: string) {
    super('segment_name_taken', { name });
  }
}

export class UnknownUser extends DomainError<'unknown_user'> {
  constructor(path: string) {
    super('unknown_user', { path });
  }
}

export class UnknownDevice extends DomainError<'unknown_device'> {
  constructor() {
    super('unknown_device', {});
  }
}

export class UnknownPullConnection extends DomainError<'unknown_pull_connection'> {
  constructor(id: string) {
    super('unknown_pull_connection', { id });
  }
}

export class PullConnectionPaused extends DomainError<'pull_connection_paused'> {
  constructor() {
    super('pull_connection_paused', {});
  }
}

export class InvalidCursor extends DomainError<'invalid_cursor'> {
  constructor() {
    super('invalid_cursor', {});
  }
}
