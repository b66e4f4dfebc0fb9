/** The campaign shapes the dashboard reads and writes (docs/reference/campaigns.md). */
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

export interface Counts {
  considered: number;
  queued: number;
  sent: number;
  delivered: number;
  bounces: number;
  aborted: number;
  skipped: number;
  control: number;
  unique_opens: number;
  unique_clicks: number;
  unsubscribes: number;
  conversions: number | null;
}

export interface CampaignOverview {
  id: string;
  name: string;
  channel: Channel;
  state: string;
  created_at: string;
  totals: Counts;
  variants: Array<Counts & { variant_id: string; name: string }>;
}

export interface DispatchProgress {
  dispatch_id: string;
  created_at: string;
  state: string;
  total: number;
  queued: number;
  sent: number;
  failed: number;
  aborted: number;
  skipped: number;
  control: number;
}

export interface Rendered {
  ok: boolean;
  user: { user_id: string; external_id: string | null; email: string | null } | null;
  email?: { subject: string; html: string; text: string };
  webhook?: { url: string; method: string; headers: Record<string, string>; body: string };
  abort?: { abort_type: string; abort_log: string };
}

export const newVariant = (channel: Channel, n: number, percent: number): VariantDraft => ({
  id: `variant_${n}`,
  name: `Variant ${n}`,
  percent,
  ...(channel === 'email'
    ? { email: { subject: 'Hello {{${first_name} | default: "there"}}', html: '<p>Hi {{${first_name} | default: "there"}},</p>\n<p><a href="https://example.com/offer">See the offer</a></p>' } }
    : { webhook: { url: 'https://example.com/hook', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user": "{{${user_id}}}"}' } }),
});
