/**
 * `POST /currents/events` (docs/reference/currents.md §4): validate each event against the catalogue, resolve its
 * user, and append every valid one to the event log in one transaction — the same log the core
 * writes, read by every connector. Idempotent by event id: an id already in the workspace's log is
 * acknowledged and counted as a duplicate, not appended again. Partial success like `/users/track`.
 */
import { eventTypeSpec, validateCurrentsEvent, type CurrentsEvent } from '../../events/index.js';
import { appendEvents } from '../../events/index.js';
import { ApiError, Errors, type ErrorEntry } from '../../http/index.js';
import { findUnstorableString, unstorableType } from '../../http/index.js';
import { transactionWithRetry, type Db } from '../../storage/index.js';
import { loadUserDirectory, resolveUser } from './resolve-users.js';

export const MAX_EVENTS_PER_REQUEST = 1000;

export interface PublishResponse {
  message: 'success';
  events_processed: number;
  duplicates: number;
  errors?: ErrorEntry[];
}

function fail(index: number, type: string, path?: string): ErrorEntry {
  return { type, input_array: 'events', index, ...(path ? { path } : {}) };
}

/** The body's shape: fatal when wrong (nothing is appended). */
function eventsOf(body: unknown): unknown[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw Errors.invalidJson('the body must be a JSON object');
  const unknown = Object.keys(body).filter((k) => k !== 'events');
  if (unknown.length > 0) throw Errors.badRequest(`unknown field ${unknown[0]}`, unknown[0]);
  const events = (body as { events?: unknown }).events;
  if (events === undefined || events === null) throw Errors.badRequest('Request must contain events', 'events');
  if (!Array.isArray(events)) throw Errors.badRequest('events must be an array', 'events');
  if (events.length === 0) throw Errors.badRequest('Request must contain events', 'events');
  if (events.length > MAX_EVENTS_PER_REQUEST) {
    throw new ApiError(400, 'Max Input Length Exceeded', [
      { type: `events holds ${events.length} objects; at most ${MAX_EVENTS_PER_REQUEST} are allowed`, path: 'events' },
    ]);
  }
  return events;
}

export async function publishEvents(db: Db, workspaceId: string, body: unknown, nowMs = Date.now()): Promise<PublishResponse> {
  const raw = eventsOf(body);
  const errors: ErrorEntry[] = [];
  const valid: Array<{ index: number; event: CurrentsEvent }> = [];
  const nowSeconds = Math.floor(nowMs / 1000);
  raw.forEach((item, index) => {
    const checked = validateCurrentsEvent(item, nowSeconds);
    if (!checked.ok) {
      for (const e of checked.errors) errors.push(fail(index, e.type, e.path || undefined));
      return;
    }
    // jsonb cannot hold U+0000 or a lone surrogate: refused per item (the route opts out of the whole-body check).
    const bad = findUnstorableString(checked.event);
    if (bad !== undefined) errors.push(fail(index, unstorableType(bad), bad));
    else valid.push({ index, event: checked.event });
  });

  const outcome = valid.length
    ? await transactionWithRetry(db, async (tx) => {
        const directory = await loadUserDirectory(tx, workspaceId, valid.map((v) => v.event));
        const accepted: CurrentsEvent[] = [];
        const refused: ErrorEntry[] = [];
        for (const { index, event } of valid) {
          const nullable = eventTypeSpec(event.event_type)?.fields['user_id']?.nullable === true;
          const resolution = resolveUser(event.user, nullable, directory);
          if (resolution.ok) accepted.push({ ...event, user: resolution.user });
          else refused.push(fail(index, resolution.type, resolution.path));
        }
        const written = await appendEvents(tx, workspaceId, accepted, { skipDuplicateIds: true });
        return { accepted: accepted.length, written: written.length, refused };
      })
    : { accepted: 0, written: 0, refused: [] as ErrorEntry[] };

  errors.push(...outcome.refused);
  errors.sort((a, b) => Number(a.index) - Number(b.index));
  if (outcome.accepted === 0) throw Errors.allFailed(errors);
  const response: PublishResponse = { message: 'success', events_processed: outcome.accepted, duplicates: outcome.accepted - outcome.written };
  if (errors.length > 0) response.errors = errors;
  return response;
}
