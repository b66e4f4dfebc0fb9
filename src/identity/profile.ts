/**
 * The profile document of `/users/export/ids` (docs/reference/rest-api.md §5): Braze's user object plus Rivulet's
 * extensions. Capabilities contribute fields (cohort memberships) through `ProfileExtension`.
 */
import type { Queryable } from '../storage/index.js';
import { aliasesOfUsers, devicesOfUsers } from './store.js';
import { STANDARD_FIELDS, type User } from './types.js';

export type ProfileExtension = {
  field: string;
  load: (tx: Queryable, userIds: string[]) => Promise<Map<string, unknown>>;
};

export const CORE_PROFILE_FIELDS = [
  'external_id',
  'braze_id',
  'user_aliases',
  ...STANDARD_FIELDS,
  'custom_attributes',
  'custom_events',
  'purchases',
  'created_at',
  'device_ids',
  'began_anonymous',
] as const;

interface Summary {
  name: string;
  first: string;
  last: string;
  count: number;
}

async function eventSummaries(tx: Queryable, userIds: string[]): Promise<Map<string, { custom_events: Summary[]; purchases: Summary[] }>> {
  const out = new Map<string, { custom_events: Summary[]; purchases: Summary[] }>();
  if (!userIds.length) return out;
  const { rows } = await tx.query<{ user_id: string; kind: string; name: string; first: Date; last: Date; count: number }>(
    `SELECT user_id, kind, name, min(first_at) AS first, max(last_at) AS last, sum(count)::int8 AS count
       FROM user_event_stats WHERE user_id = ANY($1::uuid[]) GROUP BY user_id, kind, name ORDER BY name`,
    [userIds],
  );
  for (const r of rows) {
    const entry = out.get(r.user_id) ?? { custom_events: [], purchases: [] };
    (r.kind === 'event' ? entry.custom_events : entry.purchases).push({
      name: r.name,
      first: r.first.toISOString(),
      last: r.last.toISOString(),
      count: r.count,
    });
    out.set(r.user_id, entry);
  }
  return out;
}

/** Dates held as `{"$time": iso}` come out as plain ISO strings, as Braze exports them. */
export function renderCustomAttributes(attrs: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(attrs)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { $time?: unknown }).$time === 'string' ? (v as { $time: string }).$time : v;
  }
  return out;
}

export async function buildProfiles(
  tx: Queryable,
  users: User[],
  fields: ReadonlySet<string>,
  extensions: readonly ProfileExtension[],
): Promise<Record<string, unknown>[]> {
  const ids = users.map((u) => u.id);
  const want = (f: string) => fields.has(f);
  const aliases = want('user_aliases') ? await aliasesOfUsers(tx, ids) : new Map();
  const devices = want('device_ids') ? await devicesOfUsers(tx, ids) : new Map();
  const summaries = want('custom_events') || want('purchases') ? await eventSummaries(tx, ids) : new Map();
  const extra = new Map<string, Map<string, unknown>>();
  for (const ext of extensions) if (want(ext.field)) extra.set(ext.field, await ext.load(tx, ids));

  return users.map((u) => {
    const p: Record<string, unknown> = {};
    const put = (field: string, value: unknown) => {
      if (!want(field) || value === null || value === undefined) return;
      if (Array.isArray(value) && value.length === 0) return;
      p[field] = value;
    };
    put('external_id', u.external_id);
    put('braze_id', u.id);
    put('user_aliases', aliases.get(u.id));
    for (const f of STANDARD_FIELDS) put(f, u[f]);
    if (Object.keys(u.custom_attributes).length) put('custom_attributes', renderCustomAttributes(u.custom_attributes));
    put('custom_events', summaries.get(u.id)?.custom_events);
    put('purchases', summaries.get(u.id)?.purchases);
    put('created_at', u.created_at.toISOString());
    put('device_ids', devices.get(u.id));
    put('began_anonymous', u.began_anonymous);
    for (const [field, values] of extra) put(field, values.get(u.id));
    return p;
  });
}
