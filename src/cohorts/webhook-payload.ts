/**
 * Pure validation of Mixpanel's custom-webhook messages (docs/reference/cohort-import.md §4.1) and extraction of
 * the match identifiers from members (§4.2).
 */
import { isPlainObject } from '../tracking/index.js';

export const WEBHOOK_ACTIONS = ['members', 'add_members', 'remove_members'] as const;
export type WebhookAction = (typeof WEBHOOK_ACTIONS)[number];
export const MAX_MEMBERS_PER_MESSAGE = 10_000;

export type MatchKey = { kind: 'distinct_id' } | { kind: 'email' } | { kind: 'property'; name: string };

export function parseMatchKey(raw: unknown): MatchKey | undefined {
  if (raw === undefined || raw === null || raw === 'distinct_id') return { kind: 'distinct_id' };
  if (raw === 'email') return { kind: 'email' };
  if (typeof raw === 'string' && raw.startsWith('property:') && raw.length > 9 && raw.length <= 264) return { kind: 'property', name: raw.slice(9) };
  return undefined;
}

export function formatMatchKey(k: MatchKey): string {
  return k.kind === 'property' ? `property:${k.name}` : k.kind;
}

export interface WebhookMessage {
  action: WebhookAction;
  projectId: string;
  cohortId: string;
  cohortName: string;
  cohortDescription: string | undefined;
  sessionId: string;
  page: number;
  totalPages: number;
  members: Array<Record<string, unknown>>;
}

export class WebhookInvalid extends Error {}

function idString(v: unknown): string | undefined {
  if (typeof v === 'string' && v.length > 0 && v.length <= 255) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  return undefined;
}

/** Throws WebhookInvalid with a message naming the field. `action` is echoed by the caller. */
export function checkWebhookMessage(body: unknown): WebhookMessage {
  if (!isPlainObject(body)) throw new WebhookInvalid('body must be a JSON object');
  const action = body.action;
  if (typeof action !== 'string' || !(WEBHOOK_ACTIONS as readonly string[]).includes(action)) {
    throw new WebhookInvalid('action must be one of members, add_members, remove_members');
  }
  const p = body.parameters;
  if (!isPlainObject(p)) throw new WebhookInvalid('parameters must be an object');
  const projectId = idString(p.mixpanel_project_id);
  if (!projectId) throw new WebhookInvalid('parameters.mixpanel_project_id must be a string or a number');
  const cohortId = idString(p.mixpanel_cohort_id);
  if (!cohortId) throw new WebhookInvalid('parameters.mixpanel_cohort_id must be a string or a number');
  const name = p.mixpanel_cohort_name;
  if (typeof name !== 'string' || !name.trim() || name.length > 255) throw new WebhookInvalid('parameters.mixpanel_cohort_name must be a non-empty string');
  const description = p.mixpanel_cohort_description;
  if (description !== undefined && description !== null && typeof description !== 'string') {
    throw new WebhookInvalid('parameters.mixpanel_cohort_description must be a string');
  }
  const rawSession = p.mixpanel_session_id;
  const sessionId = rawSession === undefined || rawSession === null ? 'none' : idString(rawSession);
  if (!sessionId) throw new WebhookInvalid('parameters.mixpanel_session_id must be a string');
  let page = 1;
  let totalPages = 1;
  if (p.page_info !== undefined && p.page_info !== null) {
    if (!isPlainObject(p.page_info)) throw new WebhookInvalid('parameters.page_info must be an object');
    const total = p.page_info.total_pages ?? 0;
    const count = p.page_info.page_count ?? 1;
    if (!Number.isSafeInteger(total) || (total as number) < 0 || (total as number) > 100_000) {
      throw new WebhookInvalid('page_info.total_pages must be a non-negative integer');
    }
    totalPages = Math.max(1, total as number);
    if (!Number.isSafeInteger(count) || (count as number) < 1 || (count as number) > totalPages) {
      throw new WebhookInvalid('page_count must be between 1 and total_pages');
    }
    page = count as number;
  }
  const members = p.members ?? [];
  if (!Array.isArray(members)) throw new WebhookInvalid('parameters.members must be an array');
  if (members.length > MAX_MEMBERS_PER_MESSAGE) throw new WebhookInvalid(`parameters.members holds more than ${MAX_MEMBERS_PER_MESSAGE} members`);
  for (let i = 0; i < members.length; i++) {
    if (!isPlainObject(members[i])) throw new WebhookInvalid(`parameters.members[${i}] must be an object`);
  }
  return {
    action: action as WebhookAction,
    projectId,
    cohortId,
    cohortName: name,
    cohortDescription: typeof description === 'string' ? description : undefined,
    sessionId,
    page,
    totalPages,
    members: members as Array<Record<string, unknown>>,
  };
}

/** The identifier a member is matched by under `key`; undefined when the member lacks it. */
export function memberIdentifier(member: Record<string, unknown>, key: MatchKey): string | undefined {
  const raw = key.kind === 'distinct_id' ? member.mixpanel_distinct_id : key.kind === 'email' ? member.email : member[key.name];
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  if (typeof raw !== 'string' || raw.length === 0) return undefined;
  return key.kind === 'email' ? raw.trim().toLowerCase() : raw;
}
