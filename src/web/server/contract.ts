/**
 * The dashboard API's contract: the user lookup (`GET /admin/users/lookup`). The profile is the
 * `/users/export/ids` profile: its well-known fields are typed, and the rest (standard attributes,
 * purchases, fields added by other capabilities) stays open, as custom data is. Imports TypeBox and
 * the shared HTTP contract only.
 */
import { Type, type Static } from 'typebox';
import { Timestamp } from '../../http/contract.js';

const Open = { additionalProperties: true } as const;

export const UserProfile = Type.Object(
  {
    braze_id: Type.String(),
    external_id: Type.Optional(Type.String()),
    user_aliases: Type.Optional(Type.Array(Type.Object({ alias_name: Type.String(), alias_label: Type.String() }))),
    device_ids: Type.Optional(Type.Array(Type.String())),
    email: Type.Optional(Type.String()),
    custom_attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    cohorts: Type.Optional(Type.Array(Type.Object({ partner: Type.String(), cohort_id: Type.String(), name: Type.String(), since: Type.String() }, Open))),
    custom_events: Type.Optional(Type.Array(Type.Object({ name: Type.String(), count: Type.Integer(), last: Type.Optional(Type.String()) }, Open))),
    created_at: Type.Optional(Type.String()),
    began_anonymous: Type.Optional(Type.Boolean()),
  },
  { ...Open, description: 'the /users/export/ids profile; fields without a value are left out' },
);
export type UserProfile = Static<typeof UserProfile>;

export const RecentEvent = Type.Object({
  id: Type.String(),
  event_type: Type.String(),
  time: Type.Number({ description: 'seconds since the epoch' }),
  recorded_at: Timestamp,
  event: Type.Object({ properties: Type.Optional(Type.Record(Type.String(), Type.Unknown())) }, { ...Open, description: 'the Currents-format event as logged' }),
});
export const UserLookup = Type.Object({ profile: UserProfile, recent_events: Type.Array(RecentEvent) });

/** The dashboard's session (`/dashboard/api/session`): whether the cookie is a live session, and its CSRF token. */
export const SessionState = Type.Object({
  signed_in: Type.Boolean(),
  csrf_token: Type.Optional(Type.String({ description: 'sent back as X-CSRF-Token on every state-changing call' })),
  expires_at: Type.Optional(Timestamp),
});
export type SessionState = Static<typeof SessionState>;
