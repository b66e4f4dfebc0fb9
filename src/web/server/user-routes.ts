/**
 * `GET /admin/users/lookup`: the dashboard's Users page. Finds one profile by external id, alias,
 * device id, email or internal id through the same lookup as `/users/export/ids` (so the matching
 * rules stay in one place), and adds the user's most recent events from the event log.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppServices } from '../../http/index.js';
import { requireKey } from '../../http/index.js';
import { Errors } from '../../http/index.js';
import type { ProfileExtension } from '../../identity/index.js';
import { exportIds } from '../../tracking/index.js';
import { UserLookup } from './contract.js';

const Id = Type.String({ minLength: 1, maxLength: 512 });
const LookupQuery = Type.Object(
  {
    external_id: Type.Optional(Id),
    alias_name: Type.Optional(Id),
    alias_label: Type.Optional(Id),
    device_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    email: Type.Optional(Type.String({ minLength: 3, maxLength: 255 })),
    braze_id: Type.Optional(Type.String({ format: 'uuid' })),
  },
  { additionalProperties: false },
);
type Lookup = { external_id?: string; alias_name?: string; alias_label?: string; device_id?: string; email?: string; braze_id?: string };

export const RECENT_EVENTS = 25;

function exportBody(q: Lookup): Record<string, unknown> {
  if (q.external_id) return { external_ids: [q.external_id] };
  if (q.alias_name || q.alias_label) {
    if (!q.alias_name || !q.alias_label) throw Errors.badRequest('an alias needs both alias_name and alias_label', q.alias_name ? 'alias_label' : 'alias_name');
    return { user_aliases: [{ alias_name: q.alias_name, alias_label: q.alias_label }] };
  }
  if (q.device_id) return { device_id: q.device_id };
  if (q.email) return { email_address: q.email };
  if (q.braze_id) return { braze_id: q.braze_id };
  throw Errors.badRequest('give one identifier: external_id, alias_name + alias_label, device_id, email or braze_id');
}

export function userLookupRoutes(profileExtensions: readonly ProfileExtension[]) {
  return async function routes(app: FastifyInstance, { db }: AppServices): Promise<void> {
    app.get(
      '/admin/users/lookup',
      {
        config: { permission: 'admin' },
        schema: { tags: ['admin'], summary: 'One user profile with identities, attributes, cohorts and recent events (dashboard)', querystring: LookupQuery, response: { 200: UserLookup } },
      },
      async (request) => {
        const key = requireKey(request);
        const found = await exportIds(db, key.workspace_id, exportBody(request.query as Lookup), profileExtensions);
        const profile = found.users[0];
        if (!profile) throw Errors.notFound('user');
        // Newest batches first (the key, walked backwards), newest event first within each; stops at the limit.
        const { rows } = await db.query<{ id: string; event_type: string; time: string; body: unknown; recorded_at: Date }>(
          `SELECT x.body ->> 'id' AS id, x.body ->> 'event_type' AS event_type, x.body ->> 'time' AS time, x.body, b.recorded_at
             FROM event_batches b
             CROSS JOIN LATERAL (SELECT e.body FROM json_array_elements(b.events) WITH ORDINALITY AS e(body, n)
                                  WHERE e.body -> 'user' ->> 'user_id' = $2 ORDER BY e.n DESC) x
            WHERE b.workspace_id = $1 ORDER BY b.txid DESC, b.seq DESC LIMIT $3`,
          [key.workspace_id, profile.braze_id, RECENT_EVENTS],
        );
        return {
          profile,
          recent_events: rows.map((r) => ({ id: r.id, event_type: r.event_type, time: Number(r.time), recorded_at: r.recorded_at, event: r.body })),
        };
      },
    );
  };
}
