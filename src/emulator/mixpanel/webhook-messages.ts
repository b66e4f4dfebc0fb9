/**
 * The pure half of the custom-webhook cohort sender (docs/reference/mixpanel-apis.md §10): what a run sends
 * (a full `members` export, or `add_members` then `remove_members` diffs against the last
 * successful snapshot), how members become pages of at most 1,000, the fault-injected delivery
 * order, and how a reply is judged (success, transient, non-transient).
 */
import type { CohortMember } from './cohorts.js';

export type SenderAction = 'members' | 'add_members' | 'remove_members';

export type WebhookMember = Record<string, unknown> & {
  email: unknown;
  mixpanel_distinct_id: string;
  first_name: unknown;
  last_name: unknown;
};

export interface WebhookMessage {
  action: SenderAction;
  parameters: {
    mixpanel_project_id: string;
    mixpanel_cohort_id: string;
    mixpanel_cohort_name: string;
    mixpanel_cohort_description: string;
    mixpanel_session_id: string;
    page_info: { total_pages: number; page_count: number };
    members: WebhookMember[];
  };
}

export interface Snapshot {
  ids: ReadonlySet<string>;
  takenAtMs: number;
}

export interface ActionPlan {
  action: SenderAction;
  members: CohortMember[];
}

export interface RunPlan {
  /** True when the whole cohort is sent (first run, or the snapshot expired). */
  full: boolean;
  actions: ActionPlan[];
}

/** Mixpanel's default fields, then the "Properties to Export"; unknown values are `null`. */
export function memberRecord(m: CohortMember, exported: readonly string[]): WebhookMember {
  const p = m.properties ?? {};
  const value = (k: string) => (p[k] === undefined ? null : p[k]);
  const record: WebhookMember = { email: value('$email'), mixpanel_distinct_id: m.distinctId, first_name: value('$first_name'), last_name: value('$last_name') };
  for (const name of exported) if (!(name in record)) record[name] = value(name);
  return record;
}

/**
 * A run's actions. Without a live snapshot the whole cohort goes out as `firstSync` (`members`,
 * or `add_members` as in Mixpanel's example timeline); otherwise the entered and the left members,
 * each action present even when empty. `profileOf` gives the properties of a member that left.
 */
export function planRun(input: {
  current: readonly CohortMember[];
  snapshot: Snapshot | undefined;
  nowMs: number;
  snapshotTtlMs: number;
  firstSync: 'members' | 'add_members';
  profileOf: (distinctId: string) => CohortMember;
}): RunPlan {
  const { current, snapshot } = input;
  if (!snapshot || input.nowMs - snapshot.takenAtMs > input.snapshotTtlMs) {
    return { full: true, actions: [{ action: input.firstSync, members: [...current] }] };
  }
  const now = new Set(current.map((m) => m.distinctId));
  const entered = current.filter((m) => !snapshot.ids.has(m.distinctId));
  const left = [...snapshot.ids].filter((id) => !now.has(id)).map(input.profileOf);
  return { full: false, actions: [{ action: 'add_members', members: entered }, { action: 'remove_members', members: left }] };
}

/** One action's pages, numbered from 1, sharing `sessionId`; an empty action is one empty page. */
export function paginate(
  action: SenderAction,
  members: readonly WebhookMember[],
  pageSize: number,
  meta: { projectId: string; cohortId: string; cohortName: string; cohortDescription: string; sessionId: string },
): WebhookMessage[] {
  const total = Math.max(1, Math.ceil(members.length / pageSize));
  const out: WebhookMessage[] = [];
  for (let i = 0; i < total; i++) {
    out.push({
      action,
      parameters: {
        mixpanel_project_id: meta.projectId,
        mixpanel_cohort_id: meta.cohortId,
        mixpanel_cohort_name: meta.cohortName,
        mixpanel_cohort_description: meta.cohortDescription,
        mixpanel_session_id: meta.sessionId,
        page_info: { total_pages: total, page_count: i + 1 },
        members: members.slice(i * pageSize, (i + 1) * pageSize),
      },
    });
  }
  return out;
}

export interface DeliveryFaults {
  /** Sends page `page_count = k` of every action twice in a row. */
  sendPageTwice?: number;
  /** Sends each action's pages last to first. */
  reorderPages?: boolean;
  /** Ends the run (as failed) after this many page deliveries. */
  stopAfterPage?: number;
}

/** The order one action's pages go out in, with the reorder and duplicate faults applied. */
export function deliveryOrder(pages: readonly WebhookMessage[], faults: DeliveryFaults): WebhookMessage[] {
  const ordered = faults.reorderPages ? [...pages].reverse() : [...pages];
  if (faults.sendPageTwice === undefined) return ordered;
  return ordered.flatMap((m) => (m.parameters.page_info.page_count === faults.sendPageTwice ? [m, m] : [m]));
}

export type ReplyVerdict =
  | { kind: 'success' }
  | { kind: 'transient'; message: string }
  | { kind: 'non_transient'; code: number; message: string };

const NON_TRANSIENT = new Set([400, 401, 403, 404]);

function failureMessage(body: unknown): string | undefined {
  const error = (body as { error?: unknown } | null)?.error;
  if (typeof error === 'string') return error;
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : undefined;
}

/**
 * 2xx with `status: "success"` is done. 400/401/403/404, or a 2xx failure carrying one of them,
 * pauses the sync. 429, 5xx, a 2xx failure with another code, or a 2xx without `status` is retried.
 * Any other 4xx (413, 415, …) cannot succeed on a retry either, so it pauses too.
 */
export function classifyReply(status: number, body: unknown): ReplyVerdict {
  const text = failureMessage(body);
  if (status >= 200 && status < 300) {
    const s = (body as { status?: unknown } | null)?.status;
    if (s === 'success') return { kind: 'success' };
    const code = Number((body as { error?: { code?: unknown } } | null)?.error?.code);
    if (s === 'failure' && NON_TRANSIENT.has(code)) return { kind: 'non_transient', code, message: text ?? `failure ${code}` };
    return { kind: 'transient', message: `HTTP ${status} without status "success"${text ? `: ${text}` : ''}` };
  }
  if (status === 429 || status >= 500) return { kind: 'transient', message: `HTTP ${status}${text ? `: ${text}` : ''}` };
  return { kind: 'non_transient', code: status, message: text ?? `HTTP ${status}` };
}
