/**
 * The upload queue, kept in localStorage so events logged before a reload or a closed tab are
 * uploaded by the next page of the same origin. Bounded: beyond MAX_QUEUED the oldest events go.
 */
export interface QueuedEvent {
  id: string;
  type:
    | 'session_start'
    | 'session_end'
    | 'change_user'
    | 'custom_event'
    | 'purchase'
    | 'attributes'
    | 'content_card_impression'
    | 'content_card_click'
    | 'content_card_dismiss'
    | 'in_app_message_impression'
    | 'in_app_message_click';
  time: string;
  [field: string]: unknown;
}

export const MAX_QUEUED = 1000;

export class StoredQueue {
  constructor(
    private readonly storage: Storage,
    private readonly key: string,
  ) {}

  all(): QueuedEvent[] {
    try {
      const parsed: unknown = JSON.parse(this.storage.getItem(this.key) ?? '[]');
      return Array.isArray(parsed) ? (parsed as QueuedEvent[]) : [];
    } catch {
      return [];
    }
  }

  push(event: QueuedEvent): void {
    const events = this.all();
    events.push(event);
    this.save(events.slice(-MAX_QUEUED));
  }

  /** Drops the events whose ids are in `ids` (uploaded, or refused for good). */
  remove(ids: ReadonlySet<string>): void {
    this.save(this.all().filter((e) => !ids.has(e.id)));
  }

  private save(events: QueuedEvent[]): void {
    try {
      this.storage.setItem(this.key, JSON.stringify(events));
    } catch {
      /* storage full or disabled: the events stay in memory until the page goes */
    }
  }
}
