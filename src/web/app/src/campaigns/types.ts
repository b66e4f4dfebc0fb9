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
export type Channel = 'email' | 'webhook';

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
    : { webhook: { url: 'https://example.com/hook', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user": "{{${user_id}}}"}' } }),
});
