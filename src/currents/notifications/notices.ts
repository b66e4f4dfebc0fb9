/**
 * The messages a connector's contact receives (docs/reference/currents.md §3): once when an incident starts —
 * the connector failed on auth or configuration, or has been failing transiently for 30 minutes —
 * and once when it recovers. Pure text: a connector's name and state in, a subject and body out.
 * Credentials never appear; the hints (last four characters) are enough to tell which one.
 */
import type { ConnectorHealth } from '../connectors/store.js';

export type NoticeKind = 'connector_failed' | 'connector_degraded' | 'connector_recovered';

export interface Notice {
  kind: NoticeKind;
  subject: string;
  body: string;
}

export interface NoticeSubject {
  id: string;
  name: string;
  credentialHints: Record<string, string>;
}

function hints(c: NoticeSubject): string {
  return Object.entries(c.credentialHints)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/** The notice for a health change, or `null` when the change is not one the contact hears about. */
export function noticeFor(c: NoticeSubject, from: ConnectorHealth, to: ConnectorHealth, detail: string | null, at: Date): Notice | null {
  const when = at.toISOString();
  if (to === 'failed' && from !== 'failed') {
    return {
      kind: 'connector_failed',
      subject: `[Rivulet] Mixpanel export "${c.name}" has failed`,
      body:
        `The Mixpanel export "${c.name}" (${c.id}) stopped delivering at ${when}.\n\n` +
        `Mixpanel answered: ${detail ?? 'an authentication or configuration error'}\n\n` +
        `This usually means the credentials were revoked or lack the Owner or Admin role, or the project id is wrong ` +
        `(credentials on file: ${hints(c)}). Rivulet keeps the events and retries the same batch every few minutes; ` +
        `nothing is lost. You will get one more message when delivery resumes.\n`,
    };
  }
  if (to === 'degraded' && from === 'ok') {
    return {
      kind: 'connector_degraded',
      subject: `[Rivulet] Mixpanel export "${c.name}" is degraded`,
      body:
        `The Mixpanel export "${c.name}" (${c.id}) has been failing for 30 minutes without a success, as of ${when}.\n\n` +
        `Last answer: ${detail ?? 'unknown'}\n\n` +
        `Rivulet keeps retrying with backoff and keeps every event; nothing is lost. ` +
        `You will get one more message when delivery resumes.\n`,
    };
  }
  if (to === 'ok' && from !== 'ok') {
    return {
      kind: 'connector_recovered',
      subject: `[Rivulet] Mixpanel export "${c.name}" has recovered`,
      body: `The Mixpanel export "${c.name}" (${c.id}) is delivering again since ${when}. The events held meanwhile are being sent.\n`,
    };
  }
  return null;
}
