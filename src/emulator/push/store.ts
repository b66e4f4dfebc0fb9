/** The push emulator's state: the subscriptions it handed out, the messages it decrypted, faults. */
import { randomUUID } from 'node:crypto';
import type { SubscriptionKeys } from './crypto.js';

export interface EmulatedSubscription {
  id: string;
  keys: SubscriptionKeys;
  /** The applicationServerKey it was made for (base64url), if one was given: others are refused. */
  applicationServerKey: string | null;
  createdAt: string;
  /** Unsubscribed: pushes to it answer 410. */
  gone: boolean;
}

export interface ReceivedMessage {
  id: string;
  subscription_id: string;
  received_at: string;
  ttl: number;
  urgency: string | null;
  topic: string | null;
  /** The decrypted payload as UTF-8 text. */
  payload: string;
  vapid: { aud: string; sub: string; exp: number; public_key: string };
}

export interface PushRequestRecord {
  at: string;
  subscription_id: string;
  status: number;
  reason: string | null;
}

/** A fault for one subscription: answer `status` (404, 410, 429, 500...) the next `times` pushes (all, if absent). */
export interface PushFaultRule {
  subscription: string;
  status: number;
  times?: number;
  retry_after?: number;
}

export class PushStore {
  readonly subscriptions = new Map<string, EmulatedSubscription>();
  messages: ReceivedMessage[] = [];
  requests: PushRequestRecord[] = [];
  faults: PushFaultRule[] = [];
  latencyMs = 0;
  /** Set once listening: the origin every endpoint has (the `aud` a VAPID JWT must name). */
  origin = '';

  add(keys: SubscriptionKeys, applicationServerKey: string | null): EmulatedSubscription {
    const s: EmulatedSubscription = { id: randomUUID(), keys, applicationServerKey, createdAt: new Date().toISOString(), gone: false };
    this.subscriptions.set(s.id, s);
    return s;
  }

  endpointOf(id: string): string {
    return `${this.origin}/push/${id}`;
  }

  /** The fault to answer for this subscription now, if any (counts down `times`). */
  takeFault(subscriptionId: string): PushFaultRule | undefined {
    const i = this.faults.findIndex((f) => f.subscription === subscriptionId && (f.times === undefined || f.times > 0));
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    if (f.times !== undefined) f.times--;
    return f;
  }

  record(subscriptionId: string, status: number, reason: string | null): void {
    this.requests.push({ at: new Date().toISOString(), subscription_id: subscriptionId, status, reason });
    if (this.requests.length > 100_000) this.requests.splice(0, 10_000);
  }
}
