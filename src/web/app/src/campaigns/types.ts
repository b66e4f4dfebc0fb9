/**
 * The campaign shapes the dashboard reads and writes (docs/reference/campaigns.md). What the
 * dashboard routes answer comes from the campaigns contract; the drafts below are what the
 * composer edits and sends (the campaign answer's definition fields are open in the contract).
 */
import type { Static } from 'typebox';
import type * as Contract from '../../../../campaigns/contract';

export type Counts = Static<typeof Contract.Counts>;
export type CampaignOverview = Static<typeof Contract.CampaignOverview>;
export type DispatchProgress = Static<typeof Contract.Progress>['dispatches'][number];
export type Progress = Static<typeof Contract.Progress>;
export type Rendered = Static<typeof Contract.Rendered>;
export type UserMessages = Static<typeof Contract.UserMessages>;
export type TestSendReply = Static<typeof Contract.TestSendReply>;
/** The channels the composer offers, and the content card and in-app message drafts: the contract's own shapes. */
export type Channel = Static<typeof Contract.ComposerChannel>;
export type ContentCardContent = Static<typeof Contract.ContentCardContent>;
export type InAppContent = Static<typeof Contract.InAppContent>;
export const CHANNEL_LABELS: Record<Channel, string> = { email: 'Email', webhook: 'Webhook', content_card: 'Content card', in_app_message: 'In-app message' };
export const isChannel = (v: string): v is Channel => Object.prototype.hasOwnProperty.call(CHANNEL_LABELS, v);

export interface EmailContent {
  subject: string;
  html: string;
  text?: string;
}

export interface WebhookContent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

export interface VariantDraft {
  id: string;
  name: string;
  percent: number;
  email?: EmailContent;
  webhook?: WebhookContent;
  content_card?: ContentCardContent;
  in_app_message?: InAppContent;
}

/** The variant's content for its channel, as the campaign and preview routes take it. */
export function contentOf(channel: Channel, v: VariantDraft): Pick<VariantDraft, 'email' | 'webhook' | 'content_card' | 'in_app_message'> {
  if (channel === 'email') return { email: v.email };
  if (channel === 'webhook') return { webhook: v.webhook };
  if (channel === 'content_card') return { content_card: v.content_card };
  return { in_app_message: v.in_app_message };
}

export interface CampaignView {
  id: string;
  name: string;
  channel: Channel;
  state: string;
  audience: { segment_id: string };
  variants: VariantDraft[];
  control_percent: number;
  from?: { address: string; name?: string };
  reply_to?: string;
  send_to: string;
}

export const newVariant = (channel: Channel, n: number, percent: number): VariantDraft => ({
  id: `variant_${n}`,
  name: `Variant ${n}`,
  percent,
  ...(channel === 'email'
    ? { email: { subject: 'Hello {{${first_name} | default: "there"}}', html: '<p>Hi {{${first_name} | default: "there"}},</p>\n<p><a href="https://example.com/offer">See the offer</a></p>' } }
    : channel === 'webhook'
      ? { webhook: { url: 'https://example.com/hook', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user": "{{${user_id}}}"}' } }
      : channel === 'content_card'
        ? { content_card: { title: 'Hi {{${first_name} | default: "there"}}', description: 'Our spring sale is on.', url: 'https://example.com/offer', pinned: false } }
        : { in_app_message: { layout: 'modal', header: 'Hi {{${first_name} | default: "there"}}', body: 'Free shipping on your cart today.', buttons: [{ id: 'later', text: 'Later' }, { id: 'go', text: 'Check out', url: 'https://example.com/cart' }], trigger_events: ['opened_cart'] } }),
});
