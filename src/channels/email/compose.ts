/**
 * Builds one email from its rendered parts (docs/reference/email.md §2): every tracked link rewritten
 * to a signed click URL, the open pixel last in the body, the one-click unsubscribe headers, and the
 * ids that make every attempt of one send recognisable. Pure: no I/O.
 */
import { signToken, type TrackingPayload } from './tokens.js';

export interface RenderedEmail {
  subject: string;
  html: string;
  /** The plain-text part; derived from the HTML when absent. */
  text?: string;
  preheader?: string;
}

export interface ComposeInput {
  email: RenderedEmail;
  to: string;
  from: { address: string; name?: string };
  replyTo?: string;
  sendKey: string;
  workspaceId: string;
  /** `RIVULET_PUBLIC_URL`, without a trailing slash. */
  publicUrl: string;
  secret: Buffer;
  /** Subscribed and opted-in recipients get the unsubscribe headers; `all` sends omit them. */
  listUnsubscribe: boolean;
  /** Subscription group the message unsubscribes from (absent: the global email state). */
  subscriptionGroupId?: string;
  /** Off: no pixel. */
  trackOpens?: boolean;
  /** Off: links left as written. */
  trackClicks?: boolean;
}

export interface ComposedEmail {
  from: { address: string; name: string };
  to: string;
  replyTo?: string;
  subject: string;
  html: string;
  text: string;
  messageId: string;
  headers: Record<string, string>;
  /** Each tracked link: its id and where it goes. */
  links: Array<{ id: string; url: string; alias?: string }>;
  /** The unsubscribe URL (the one-click target and the body link's page). */
  unsubscribeUrl: string;
}

const SUBSCRIPTION_LINK = /\/u\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
}

function unescapeAttr(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

/** A plain-text rendering of HTML for the text part: tags dropped, links kept as text. */
export function textOf(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '')
    .replace(/<a\b[^>]*href="([^"]*)"[^>]*>([\s\S]*?)<\/a>/gi, (_m, href: string, label: string) => `${label.replace(/<[^>]+>/g, '')} (${unescapeAttr(href)})`)
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|h[1-6]|li|tr)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

export function composeEmail(input: ComposeInput): ComposedEmail {
  const { publicUrl, secret, sendKey, workspaceId } = input;
  const token = (p: Omit<TrackingPayload, 'w' | 's'>) => signToken({ ...p, w: workspaceId, s: sendKey } as TrackingPayload, secret);
  const unsubscribeUrl = `${publicUrl}/u/${token({ k: 'unsubscribe', ...(input.subscriptionGroupId ? { g: input.subscriptionGroupId } : {}) })}`;
  const links: ComposedEmail['links'] = [];

  let html = input.email.html;
  if (input.trackClicks !== false) {
    // Each http(s) href of an <a> becomes a signed click URL, except subscription links and
    // links marked clicktracking="off". `lid` numbers links in order (Braze's link ids).
    html = html.replace(/<a\b([^>]*?)\bhref="([^"]*)"([^>]*)>/gi, (whole, before: string, rawHref: string, after: string) => {
      const href = unescapeAttr(rawHref);
      if (!/^https?:\/\//i.test(href) || SUBSCRIPTION_LINK.test(href) || href.startsWith(`${publicUrl}/u/`) || /clicktracking\s*=\s*"off"/i.test(before + after)) return whole;
      const id = `l${links.length}`;
      const alias = /\bdata-link-alias="([^"]*)"/i.exec(before + after)?.[1];
      links.push({ id, url: href, ...(alias ? { alias } : {}) });
      const tracked = `${publicUrl}/t/c/${token({ k: 'click', url: href, lid: id, ...(alias ? { alias } : {}) })}`;
      return `<a${before}href="${escapeAttr(tracked)}"${after}>`;
    });
  }
  if (input.trackOpens !== false) {
    const pixel = `<img src="${publicUrl}/t/o/${token({ k: 'open' })}" width="1" height="1" alt="" style="display:none;border:0">`;
    html = /<\/body>/i.test(html) ? html.replace(/<\/body>(?![\s\S]*<\/body>)/i, `${pixel}</body>`) : html + pixel;
  }
  if (input.email.preheader) {
    const pre = `<div style="display:none;max-height:0;overflow:hidden">${input.email.preheader.replace(/</g, '&lt;')}</div>`;
    html = /<body[^>]*>/i.test(html) ? html.replace(/<body[^>]*>/i, (b) => b + pre) : pre + html;
  }

  const domain = input.from.address.slice(input.from.address.lastIndexOf('@') + 1) || 'localhost';
  const headers: Record<string, string> = { 'X-Rivulet-Send-Id': sendKey };
  if (input.listUnsubscribe) {
    headers['List-Unsubscribe'] = `<${unsubscribeUrl}>`;
    headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
  }
  return {
    from: { address: input.from.address, name: input.from.name ?? '' },
    to: input.to,
    ...(input.replyTo ? { replyTo: input.replyTo } : {}),
    subject: input.email.subject.replace(/[\r\n]+/g, ' '),
    html,
    text: input.email.text ?? textOf(input.email.html),
    messageId: `<${sendKey}@${domain}>`,
    headers,
    links,
    unsubscribeUrl,
  };
}
