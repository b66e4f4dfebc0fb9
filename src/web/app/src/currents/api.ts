/**
 * The Currents admin API as the dashboard reads it (src/currents): connectors (Mixpanel exports),
 * their status, dead letters and the event catalogue grouped for the create form. Shapes are
 * normalised here so the pages do not care about field spellings.
 */
export const CURRENTS_ROUTES = {
  list: '/admin/currents',
  createMixpanel: '/admin/currents/mixpanel',
  eventTypes: '/admin/currents/event-types',
  one: (id: string) => `/admin/currents/${encodeURIComponent(id)}`,
  status: (id: string) => `/admin/currents/${encodeURIComponent(id)}/status`,
  pause: (id: string) => `/admin/currents/${encodeURIComponent(id)}/pause`,
  resume: (id: string) => `/admin/currents/${encodeURIComponent(id)}/resume`,
  deadLetters: (id: string) => `/admin/currents/${encodeURIComponent(id)}/dead-letters`,
  history: (id: string) => `/admin/currents/${encodeURIComponent(id)}/history`,
};

export interface ConnectorSummary {
  id: string;
  name: string;
  state: string;
  region: string;
  event_types: string[];
  contact_email?: string;
  project_id?: string | null;
  base_url?: string | null;
  created_at?: string;
  last_error?: string | null;
  last_error_at?: string | null;
  /** Events delivered in the last 24 hours (from the per-minute history); the list only. */
  delivered_24h?: number | null;
  /** Events not yet delivered and how long the oldest has waited; the list only. */
  lag?: { events: number; seconds: number } | null;
}

export interface ReasonCount {
  reason: string;
  event_type?: string;
  count: number;
}

export interface ConnectorStatus extends ConnectorSummary {
  sent: number;
  skipped: ReasonCount[];
  dead_lettered: ReasonCount[];
  /** Changes made to sent events to fit Mixpanel's limits, by reason (counts of changes). */
  fitted: ReasonCount[];
  retries: number;
  lag_events: number | null;
  lag_seconds: number | null;
  last_error_at?: string | null;
  credential_hints?: Record<string, string>;
}

export interface DeadLetter {
  id: string | number;
  event_id: string;
  event_type: string;
  reason: string;
  field?: string | null;
  message?: string | null;
  insert_id?: string;
  first_attempt_at?: string;
  last_attempt_at?: string;
}

export interface EventTypeGroup {
  label: string;
  types: Array<{ type: string; mixpanel_event: string | null; channel?: string | null }>;
  /** Messages: the channels, for sub-grouping. */
  channels?: Array<{ channel: string; label: string }>;
}

type Json = Record<string, unknown>;

const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : 0);

/** `{reason: n}`, `{type: {reason: n}}` or `[{reason, count}]` → a flat list. */
export function reasonCounts(raw: unknown): ReasonCount[] {
  if (Array.isArray(raw)) return raw.map((r: Json) => ({ reason: String(r.reason ?? ''), event_type: r.event_type as string | undefined, count: num(r.count) }));
  if (raw && typeof raw === 'object') {
    const out: ReasonCount[] = [];
    for (const [k, v] of Object.entries(raw as Json)) {
      if (v && typeof v === 'object') for (const [reason, n] of Object.entries(v as Json)) out.push({ reason, event_type: k, count: num(n) });
      else out.push({ reason: k, count: num(v) });
    }
    return out;
  }
  return [];
}

export function toSummary(raw: Json): ConnectorSummary {
  return {
    id: String(raw.id),
    name: String(raw.name ?? raw.integration_name ?? raw.id),
    state: String(raw.state ?? 'active'),
    region: String(raw.region ?? 'US'),
    event_types: Array.isArray(raw.event_types) ? (raw.event_types as string[]) : [],
    contact_email: raw.contact_email as string | undefined,
    project_id: (raw.project_id as string | null | undefined) ?? null,
    base_url: (raw.base_url as string | null | undefined) ?? null,
    created_at: raw.created_at as string | undefined,
    last_error: (raw.last_error as string | null | undefined) ?? null,
    last_error_at: (raw.last_error_at as string | null | undefined) ?? null,
    delivered_24h: raw.delivered_24h !== undefined ? num(raw.delivered_24h) : null,
    lag: raw.lag && typeof raw.lag === 'object' ? { events: num((raw.lag as Json).events), seconds: num((raw.lag as Json).seconds) } : null,
  };
}

export function toStatus(raw: Json): ConnectorStatus {
  const counts = (raw.counts ?? raw.counters ?? raw) as Json;
  const lag = (raw.lag ?? {}) as Json;
  return {
    ...toSummary((raw.connector as Json | undefined) ?? raw),
    sent: num(counts.sent),
    skipped: reasonCounts(counts.skipped),
    dead_lettered: reasonCounts(counts.dead_lettered),
    fitted: reasonCounts(counts.fitted),
    retries: num(raw.retries ?? counts.retries),
    lag_events: lag.events !== undefined ? num(lag.events) : raw.lag_events !== undefined ? num(raw.lag_events) : null,
    lag_seconds: lag.seconds !== undefined ? num(lag.seconds) : raw.lag_seconds !== undefined ? num(raw.lag_seconds) : null,
    last_error_at: (raw.last_error_at as string | null | undefined) ?? null,
    credential_hints: raw.credential_hints as Record<string, string> | undefined,
  };
}
