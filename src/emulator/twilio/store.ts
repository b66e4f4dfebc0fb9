/** The emulator's memory: accounts, messages with their status history, fault rules, callback log. */
import { randomBytes } from 'node:crypto';

export interface EmulatedMessage {
  sid: string;
  account_sid: string;
  to: string;
  from: string | null;
  messaging_service_sid: string | null;
  body: string;
  status: string;
  error_code: number | null;
  status_callback: string | null;
  statuses: string[];
  date_created: string;
}

export interface FaultRule {
  /** Only messages to this number (any when absent). */
  to?: string;
  outcome: 'failed' | 'undelivered' | 'reject';
  /** Twilio error code reported (30003 unreachable, 30007 filtered, 30008 unknown...). */
  error_code?: number;
  /** How many messages the rule applies to (unlimited when absent). */
  count?: number;
}

export interface CallbackRecord {
  message_sid: string;
  status: string;
  url: string;
  http_status: number | null;
  error?: string;
}

export const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');

export class TwilioStore {
  readonly accounts = new Map<string, string>();
  readonly messages = new Map<string, EmulatedMessage>();
  readonly callbacks: CallbackRecord[] = [];
  rules: FaultRule[] = [];
  /** Delay before each status callback, in ms. */
  latencyMs = 20;
  private readonly limit: number;

  constructor(limit = 100_000) {
    this.limit = limit;
  }

  add(m: EmulatedMessage): void {
    if (this.messages.size >= this.limit) this.messages.delete(this.messages.keys().next().value!);
    this.messages.set(m.sid, m);
  }

  logCallback(c: CallbackRecord): void {
    if (this.callbacks.length >= 10_000) this.callbacks.shift();
    this.callbacks.push(c);
  }

  /** The fault for a message to `to` (consuming one use of a counted rule), if any. */
  faultFor(to: string): FaultRule | undefined {
    const i = this.rules.findIndex((r) => !r.to || r.to === to);
    if (i < 0) return undefined;
    const rule = this.rules[i]!;
    if (rule.count !== undefined && --rule.count <= 0) this.rules.splice(i, 1);
    return rule;
  }
}
