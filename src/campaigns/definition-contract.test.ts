/**
 * The campaign definition has one source: the schemas of the campaigns contract. What the body
 * check (definition.ts) accepts and stores must match `CampaignDefinition`, and the body itself
 * (name and channel beside it) the channel's arm of `CampaignBody`; the lists the checks name in
 * their messages must be those of the schemas.
 */
import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { WEBHOOK_METHODS } from '../channels/index.js';
import { CONVERSION_TYPES } from './conversion-rules.js';
import { CampaignBody, CampaignChannel, CampaignDefinition, ContentCardCampaign, ConversionType, EmailCampaign, InAppCampaign, PushCampaign, SmsCampaign, WebhookCampaign, WebhookMethod } from './contract.js';
import { CHANNELS, checkCampaignBody } from './definition.js';

const bodies = {
  email: {
    name: 'Spring',
    channel: 'email',
    audience: { segment_id: 'seg-1' },
    control_percent: 10,
    from: { address: 'news@rivulet.example', name: 'News' },
    reply_to: 'help@rivulet.example',
    variants: [
      { id: 'a', name: 'A', percent: 45, email: { subject: 'Hi {{${first_name}}}', html: '<p>Hi</p>', text: 'Hi', preheader: 'Spring' } },
      { percent: 45, email: { subject: 'Hello', html: '<p>Hello</p>' } },
    ],
    conversion_behaviors: [{ type: 'performs_custom_event', custom_event_name: 'bought', window: 3600 }, { type: 'opens_email' }],
    rate_limit_per_minute: 100,
    quiet_hours: { start_hour: 22, end_hour: 7 },
    ignore_frequency_capping: true,
  },
  webhook: {
    name: 'Hook',
    channel: 'webhook',
    delivery: 'action_based',
    audience: { segment_id: 'seg-1' },
    variants: [{ id: 'w', percent: 100, webhook: { url: 'https://example.com/{{${user_id}}}', method: 'PUT', headers: { 'x-a': 'b' }, body: '{}' } }],
    trigger: { type: 'custom_event', custom_event_name: 'signed_up', delay_seconds: 60, property_filters: [{ property: 'plan', op: 'equals', value: 'pro' }], window: { start: '2026-01-01T00:00:00Z' } },
  },
  sms: { name: 'Text', channel: 'sms', delivery: 'api_triggered', send_to: 'opted_in', audience: { segment_id: 'seg-1' }, variants: [{ id: 's', percent: 100, sms: { body: 'Hi {{${first_name}}}' } }] },
  push: { name: 'Push', channel: 'pushnotification', audience: { segment_id: 'seg-1' }, variants: [{ id: 'p', percent: 100, pushnotification: { title: 'Hi {{${first_name}}}', body: 'New', url: 'https://example.com/p' } }] },
  card: {
    name: 'Card',
    channel: 'content_card',
    audience: { segment_id: 'seg-1' },
    variants: [{ id: 'c', percent: 100, content_card: { title: 'Hi', description: 'A card for {{${first_name}}}', url: 'https://example.com/c', pinned: true, expires_after_seconds: 86_400 } }],
  },
  inapp: {
    name: 'In-app',
    channel: 'in_app_message',
    audience: { segment_id: 'seg-1' },
    variants: [{ id: 'i', percent: 100, in_app_message: { layout: 'modal', header: 'Hi', body: 'Welcome', buttons: [{ id: 'ok', text: 'OK', url: 'https://example.com/ok' }], trigger_events: ['opened_cart'] } }],
  },
  api: { name: 'API', channel: 'email', delivery: 'api_campaign', audience: {}, from: { address: 'a@rivulet.example' }, variants: [{ id: 'x', percent: 100 }] },
} as const;

describe('the campaign definition and its schema', () => {
  for (const [kind, body] of Object.entries(bodies)) {
    it(`stores a ${kind} campaign as the contract's CampaignDefinition, and its body is the channel's arm`, () => {
      const checked = checkCampaignBody(body);
      expect(checked.problems).toBeUndefined();
      const { name, channel, definition } = checked.input!;
      expect([...Value.Errors(CampaignDefinition, definition)]).toEqual([]);
      const stored = { name, channel, ...definition };
      expect(Value.Check(CampaignBody, stored)).toBe(true);
      const arm = { email: EmailCampaign, webhook: WebhookCampaign, sms: SmsCampaign, pushnotification: PushCampaign, content_card: ContentCardCampaign, in_app_message: InAppCampaign }[channel];
      expect(Value.Check(arm, stored)).toBe(true);
    });
  }

  it('keys the union by channel: a variant carrying another channel message still matches only its own arm', () => {
    const webhook = { ...checkCampaignBody(bodies.webhook).input!.definition, name: 'Hook', channel: 'webhook' };
    expect(Value.Check(EmailCampaign, webhook)).toBe(false);
    expect(Value.Check(CampaignBody, { ...webhook, channel: 'fax' })).toBe(false);
  });

  it('rejects what the checks reject, in the schema too', () => {
    const definition = checkCampaignBody(bodies.email).input!.definition;
    expect(Value.Check(CampaignDefinition, { ...definition, control_percent: 101 })).toBe(false);
    expect(Value.Check(CampaignDefinition, { ...definition, variants: [] })).toBe(false);
    expect(Value.Check(CampaignDefinition, { ...definition, rate_limit_per_minute: 5 })).toBe(false);
    expect(Value.Check(CampaignDefinition, { ...definition, variants: [{ ...definition.variants[0], id: 'no spaces' }] })).toBe(false);
  });

  it('names in its messages the same lists the schemas hold', () => {
    const literals = (union: { anyOf: Array<{ const: unknown }> }) => union.anyOf.map((s) => s.const);
    expect(literals(ConversionType)).toEqual([...CONVERSION_TYPES]);
    expect(literals(WebhookMethod).sort()).toEqual([...WEBHOOK_METHODS].sort());
    expect(literals(CampaignChannel)).toEqual([...CHANNELS]);
  });

  it('keeps the field-naming messages of the body check', () => {
    const checked = checkCampaignBody({ ...bodies.sms, variants: [{ id: 's', percent: 100, sms: { body: 'x'.repeat(1601) } }] });
    expect(checked.problems).toEqual([{ field: 'variants[0].sms.body', message: 'must be at most 1600 characters' }]);
  });
});
