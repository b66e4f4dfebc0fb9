/** Pure application of a validated attributes object to a profile held in memory. */
import type { User } from '../identity/index.js';
import type { AttributesItem } from './validate.js';

export interface SubscriptionChange {
  channel: 'email' | 'push';
  status: string;
}

/** Applies `item` to `user` in place; returns the subscription changes that must be logged. */
export function applyAttributes(user: User, item: AttributesItem, maxArray: number): SubscriptionChange[] {
  for (const [field, value] of Object.entries(item.standard)) {
    (user as unknown as Record<string, unknown>)[field] = value;
  }
  const attrs = { ...user.custom_attributes };
  for (const op of item.custom) {
    switch (op.op) {
      case 'set':
        attrs[op.key] = op.value;
        break;
      case 'unset':
        delete attrs[op.key];
        break;
      case 'inc': {
        const current = attrs[op.key];
        attrs[op.key] = (typeof current === 'number' && Number.isFinite(current) ? current : 0) + op.by;
        break;
      }
      case 'add_remove': {
        const current = Array.isArray(attrs[op.key]) ? (attrs[op.key] as Array<string | number>) : [];
        const removed = new Set(op.remove);
        const next = current.filter((v) => !removed.has(v));
        for (const v of op.add) if (!next.includes(v) && !removed.has(v)) next.push(v);
        // Over the cap, the oldest values give way to the newest.
        attrs[op.key] = next.slice(Math.max(0, next.length - maxArray));
        break;
      }
    }
  }
  user.custom_attributes = attrs;
  const changes: SubscriptionChange[] = [];
  if (item.standard.email_subscribe) changes.push({ channel: 'email', status: item.standard.email_subscribe });
  if (item.standard.push_subscribe) changes.push({ channel: 'push', status: item.standard.push_subscribe });
  return changes;
}
