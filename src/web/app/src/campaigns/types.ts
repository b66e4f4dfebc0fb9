/**
 * The campaign shapes the dashboard reads and writes (docs/reference/campaigns.md), all from the
 * campaigns contract: what the routes answer, and the composer's draft (`CampaignDraft`, the body
 * the admin API takes: a union keyed by channel).
 */
import type { Static } from 'typebox';
import * as Contract from '../../../../campaigns/contract';

export const Counts = Contract.Counts;
export type Counts = Static<typeof Counts>;
export const CampaignOverview = Contract.CampaignOverview;
export type CampaignOverview = Static<typeof CampaignOverview>;
export const CampaignOverviewPage = Contract.CampaignOverviewPage;
export type DispatchProgress = Static<typeof Contract.Progress>['dispatches'][number];
export const Progress = Contract.Progress;
export type Progress = Static<typeof Progress>;
export const Rendered = Contract.Rendered;
export type Rendered = Static<typeof Rendered>;
export const UserMessages = Contract.UserMessages;
export type UserMessages = Static<typeof UserMessages>;
export const TestSendReply = Contract.TestSendReply;
export type TestSendReply = Static<typeof TestSendReply>;

/** A campaign as the admin API answers it (fixed fields and the definition of its channel). */
export const CampaignView = Contract.Campaign;
export type CampaignView = Static<typeof CampaignView>;
/** What `POST /admin/campaigns/:id/{launch,…}` answer. */
export const Launched = Contract.Launched;

export type Channel = Static<typeof Contract.CampaignChannel>;
/** The body the composer sends: one arm per channel. */
export type CampaignDraft = Static<typeof Contract.CampaignBody>;
/** A variant as the composer edits it: every channel's message optional, only the campaign's channel's is sent. */
export type VariantDraft = Static<typeof Contract.Variant>;
export type EmailContent = Static<typeof Contract.EmailMessage>;
export type WebhookContent = Static<typeof Contract.WebhookMessage>;
export type ContentCardContent = Static<typeof Contract.ContentCardMessage>;
export type InAppContent = Static<typeof Contract.InAppMessage>;
export const WEBHOOK_METHODS = Contract.WebhookMethod.anyOf.map((m) => m.const);

/** The channels the composer offers (web push has no composer yet: its campaigns come through the admin API). */
export const CHANNEL_LABELS: Partial<Record<Channel, string>> = { email: 'Email', webhook: 'Webhook', sms: 'SMS', content_card: 'Content card', in_app_message: 'In-app message' };
export const isChannel = (v: string): v is Channel => Object.prototype.hasOwnProperty.call(CHANNEL_LABELS, v);

/** The message a new variant of `channel` starts with. */
function starter(channel: Channel): Pick<VariantDraft, Channel> {
  switch (channel) {
    case 'email':
      return { email: { subject: 'Hello {{${first_name} | default: "there"}}', html: '<p>Hi {{${first_name} | default: "there"}},</p>\n<p><a href="https://example.com/offer">See the offer</a></p>' } };
    case 'webhook':
      return { webhook: { url: 'https://example.com/hook', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user": "{{${user_id}}}"}' } };
    case 'sms':
      return { sms: { body: 'Hi {{${first_name} | default: "there"}}' } };
    case 'pushnotification':
      return { pushnotification: { title: 'Hi {{${first_name} | default: "there"}}', body: 'Our spring sale is on.', url: 'https://example.com/offer' } };
    case 'content_card':
      return { content_card: { title: 'Hi {{${first_name} | default: "there"}}', description: 'Our spring sale is on.', url: 'https://example.com/offer', pinned: false } };
    case 'in_app_message':
      return {
        in_app_message: {
          layout: 'modal',
          header: 'Hi {{${first_name} | default: "there"}}',
          body: 'Free shipping on your cart today.',
          buttons: [{ id: 'later', text: 'Later' }, { id: 'go', text: 'Check out', url: 'https://example.com/cart' }],
          trigger_events: ['opened_cart'],
        },
      };
  }
}

export const newVariant = (channel: Channel, n: number, percent: number): VariantDraft => ({ id: `variant_${n}`, name: `Variant ${n}`, percent, ...starter(channel) });
