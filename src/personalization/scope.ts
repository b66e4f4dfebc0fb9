/**
 * What a template sees (docs/reference/personalization.md): the profile under Braze's names,
 * custom attributes, the trigger's properties, the campaign or Canvas, subscription states and
 * the subscription links. A pure function of its inputs.
 */
import { createHash } from 'node:crypto';

/** The profile fields a template may read, as the identity capability stores them. */
export interface ProfileForRender {
  id: string;
  external_id: string | null;
  email: string | null;
  phone: string | null;
  first_name: string | null;
  last_name: string | null;
  gender: string | null;
  dob: string | null;
  country: string | null;
  language: string | null;
  home_city: string | null;
  time_zone: string | null;
  email_subscribe: string | null;
  custom_attributes: Record<string, unknown>;
}

export interface CampaignForRender {
  api_id: string;
  dispatch_id: string;
  name: string;
  message_name: string;
  message_api_id: string;
}

export interface CanvasForRender {
  api_id: string;
  name: string;
  variant_name: string;
  variant_api_id: string;
}

export interface ScopeInput {
  profile: ProfileForRender;
  eventProperties?: Record<string, unknown>;
  apiTriggerProperties?: Record<string, unknown>;
  canvasEntryProperties?: Record<string, unknown>;
  campaign?: CampaignForRender;
  /** In a Canvas, `campaign.name` is the step's name (as Braze does). */
  canvas?: CanvasForRender;
  /** `email_global` and one entry per subscription group id. */
  subscribedState?: Record<string, string>;
  links?: { unsubscribe?: string; subscribe?: string; optIn?: string };
}

export type RenderScope = Record<string, unknown>;

/** 0–9999, stable per user: a hash of the internal id (Braze's is random at creation). */
export function randomBucketNumber(userId: string): number {
  return createHash('sha1').update(userId).digest().readUInt32BE(0) % 10_000;
}

/** Dates held as `{"$time": iso}` read as their ISO text. */
function plainAttributes(attrs: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(attrs)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { $time?: unknown }).$time === 'string' ? (v as { $time: string }).$time : v;
  }
  return out;
}

export function buildRenderScope(input: ScopeInput): RenderScope {
  const p = input.profile;
  const unsubscribe = input.links?.unsubscribe ?? '';
  return {
    first_name: p.first_name,
    last_name: p.last_name,
    email_address: p.email,
    phone_number: p.phone,
    city: p.home_city,
    country: p.country,
    language: p.language,
    gender: p.gender,
    date_of_birth: p.dob,
    time_zone: p.time_zone,
    user_id: p.external_id,
    braze_id: p.id,
    random_bucket_number: randomBucketNumber(p.id),
    custom_attribute: plainAttributes(p.custom_attributes),
    event_properties: input.eventProperties ?? {},
    api_trigger_properties: input.apiTriggerProperties ?? {},
    canvas_entry_properties: input.canvasEntryProperties ?? {},
    context: input.canvasEntryProperties ?? {},
    campaign: input.campaign ?? {},
    canvas: input.canvas ?? {},
    subscribed_state: { email_global: p.email_subscribe ?? 'subscribed', ...input.subscribedState },
    set_user_to_unsubscribed_url: unsubscribe,
    unsubscribe_url: unsubscribe,
    set_user_to_subscribed_url: input.links?.subscribe ?? '',
    set_user_to_opted_in_url: input.links?.optIn ?? '',
  };
}
