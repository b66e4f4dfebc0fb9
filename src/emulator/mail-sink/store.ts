/**
 * What the mail sink received (docs/reference/mail-sink.md): every message's envelope and headers,
 * the raw text of the most recent ones (older raw text is dropped, so memory stays bounded at any
 * volume), counts by the idempotency header, and the rules that make chosen addresses fail.
 */
import { randomUUID } from 'node:crypto';

export interface SinkMessage {
  id: string;
  receivedAt: number;
  from: string;
  to: string[];
  subject: string;
  messageId: string | null;
  /** `X-Rivulet-Send-Id`: the same on every attempt of one send. */
  sendId: string | null;
  size: number;
  /** The whole message as received, kept for the newest `rawLimit` messages only. */
  raw: Buffer | null;
}

export interface FailureRule {
  /** An address, or `*@domain` for a whole domain. */
  address: string;
  /** 4xx (try later: a soft bounce) or 5xx (refused: a hard bounce). */
  code: number;
  message: string;
  /** Fail this many times, then accept (unset: always). */
  times?: number;
}

export const DEFAULT_RAW_LIMIT = 10_000;

function headerValue(head: string, name: string): string | null {
  const m = new RegExp(`^${name}:[ \\t]*((?:.*)(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head);
  return m ? m[1]!.replace(/\r?\n[ \t]+/g, ' ').trim() : null;
}

/** Splits the header block off a raw message and reads the few headers the sink indexes. */
export function indexHeaders(raw: Buffer): { subject: string; messageId: string | null; sendId: string | null } {
  const text = raw.subarray(0, Math.min(raw.length, 64 * 1024)).toString('utf8');
  const end = text.search(/\r?\n\r?\n/);
  const head = end === -1 ? text : text.slice(0, end);
  return { subject: headerValue(head, 'Subject') ?? '', messageId: headerValue(head, 'Message-ID'), sendId: headerValue(head, 'X-Rivulet-Send-Id') };
}

export class SinkStore {
  private readonly messages: SinkMessage[] = [];
  private readonly byId = new Map<string, SinkMessage>();
  private readonly sendIds = new Map<string, number>();
  private rules: FailureRule[] = [];
  private readonly refused = new Map<number, number>();

  constructor(private readonly rawLimit = DEFAULT_RAW_LIMIT) {}

  add(input: { from: string; to: string[]; raw: Buffer; receivedAt?: number }): SinkMessage {
    const headers = indexHeaders(input.raw);
    const message: SinkMessage = { id: randomUUID(), receivedAt: input.receivedAt ?? Date.now(), from: input.from, to: input.to, size: input.raw.length, raw: input.raw, ...headers };
    this.messages.push(message);
    this.byId.set(message.id, message);
    if (message.sendId) this.sendIds.set(message.sendId, (this.sendIds.get(message.sendId) ?? 0) + 1);
    const old = this.messages.length - 1 - this.rawLimit;
    if (old >= 0) this.messages[old]!.raw = null;
    return message;
  }

  get(id: string): SinkMessage | undefined {
    return this.byId.get(id);
  }

  /** Newest first, optionally only those to one address. */
  list(opts: { to?: string; limit: number; offset?: number }): { total: number; messages: SinkMessage[] } {
    const want = opts.to?.toLowerCase();
    const matching = want ? this.messages.filter((m) => m.to.some((t) => t.toLowerCase() === want)) : this.messages;
    const start = Math.max(0, matching.length - (opts.offset ?? 0) - opts.limit);
    const end = Math.max(0, matching.length - (opts.offset ?? 0));
    return { total: matching.length, messages: matching.slice(start, end).reverse() };
  }

  clear(): void {
    this.messages.length = 0;
    this.byId.clear();
    this.sendIds.clear();
    this.refused.clear();
  }

  setRules(rules: FailureRule[]): void {
    this.rules = rules.map((r) => ({ ...r, address: r.address.toLowerCase() }));
  }

  getRules(): FailureRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** The failure to answer for a recipient, if a rule names it (a counted rule is used up). */
  failureFor(address: string): { code: number; message: string } | undefined {
    const a = address.toLowerCase();
    const domain = a.slice(a.lastIndexOf('@') + 1);
    const rule = this.rules.find((r) => (r.address === a || r.address === `*@${domain}`) && (r.times === undefined || r.times > 0));
    if (!rule) return undefined;
    if (rule.times !== undefined) rule.times--;
    this.refused.set(rule.code, (this.refused.get(rule.code) ?? 0) + 1);
    return { code: rule.code, message: rule.message };
  }

  /** Counts for tests and benches: duplicates by send id, refusals by code, the busiest minute. */
  stats(windowMs = 60_000): { messages: number; distinct_send_ids: number; duplicate_send_ids: number; refused: Record<string, number>; max_in_window: number; window_ms: number } {
    let duplicates = 0;
    for (const n of this.sendIds.values()) if (n > 1) duplicates++;
    // The most messages received within any `windowMs` (a sliding window over arrival times).
    let max = 0;
    let from = 0;
    for (let i = 0; i < this.messages.length; i++) {
      while (this.messages[i]!.receivedAt - this.messages[from]!.receivedAt >= windowMs) from++;
      max = Math.max(max, i - from + 1);
    }
    return {
      messages: this.messages.length,
      distinct_send_ids: this.sendIds.size,
      duplicate_send_ids: duplicates,
      refused: Object.fromEntries([...this.refused].map(([k, v]) => [String(k), v])),
      max_in_window: max,
      window_ms: windowMs,
    };
  }
}
