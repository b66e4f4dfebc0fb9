/**
 * The campaign admin and messaging API's contract. A campaign's definition (audience, variants,
 * delivery, schedule, …) is spread into the campaign answer and grows with the channels, so the
 * campaign is typed by its fixed fields and left open for the definition's. Imports TypeBox and
 * the shared HTTP contract only.
 */
import { Type } from 'typebox';
import { NextCursor, Nullable, Timestamp } from '../http/contract.js';

export const Campaign = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    channel: Type.String(),
    state: Type.String(),
    created_at: Timestamp,
    updated_at: Timestamp,
    sends_ended: Type.Optional(Type.Integer({ description: 'after stop: queued sends ended' })),
  },
  { additionalProperties: true, description: "the campaign's fixed fields and its definition's fields" },
);
export const CampaignPage = Type.Object({ campaigns: Type.Array(Campaign), next_cursor: NextCursor });
export const Launched = Type.Object({
  dispatch_id: Nullable(Type.String()),
  audience_size: Type.Optional(Type.Integer()),
  state: Type.Optional(Type.String({ description: 'for an API-triggered campaign (no dispatch): its state' })),
});
export const CampaignStats = Type.Object({
  campaign_id: Type.String(),
  variants: Type.Record(Type.String(), Type.Record(Type.String(), Type.Integer()), { description: 'per variant: considered, unique_opens, unique_clicks, unsubscribes and sends per state' }),
});
export const TriggerSent = Type.Object({
  message: Type.Literal('success'),
  dispatch_id: Type.String(),
  errors: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
});

export * from './dashboard-contract.js';
