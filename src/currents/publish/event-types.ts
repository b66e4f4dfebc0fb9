/**
 * The event catalogue as the dashboard's connector form shows it: the selectable types grouped
 * Behaviors, Campaigns, Canvas and Messages (each message type with its channel, and the channels
 * listed for sub-grouping), with Mixpanel names and fields; legacy types apart, since no connector
 * may select them. A view over `events/catalogue.ts`, which stays the one source.
 */
import { CURRENTS_EVENT_TYPES, eventTypeSpec, type EventCategory, type EventTypeSpec, type MessageChannel } from '../../events/index.js';
import { mixpanelNameOf } from '../mixpanel/event-names.js';

export interface EventTypeView {
  type: string;
  category: EventCategory;
  channel: MessageChannel | null;
  mixpanel_event: string | null;
  mixpanel_event_inferred: boolean;
  selectable: boolean;
  fields: Array<{ name: string; type: string; nullable: boolean; placement: string }>;
}

export interface EventTypeGroup {
  category: EventCategory;
  label: string;
  types: EventTypeView[];
  /** Messages only: the channels in catalogue order. */
  channels?: Array<{ channel: MessageChannel; label: string }>;
}

const CATEGORY_LABELS: Record<EventCategory, string> = { behaviors: 'Behaviors', campaigns: 'Campaigns', canvas: 'Canvas', messages: 'Messages' };
export const CHANNEL_LABELS: Record<MessageChannel, string> = {
  contentcard: 'Content Cards',
  email: 'Email',
  inappmessage: 'In-App Messages',
  pushnotification: 'Push Notifications',
  sms: 'SMS',
  webhook: 'Webhooks',
  newsfeedcard: 'News Feed (legacy)',
};

function view(spec: EventTypeSpec): EventTypeView {
  return {
    type: spec.type,
    category: spec.category,
    channel: spec.channel,
    mixpanel_event: mixpanelNameOf(spec.type)?.name ?? null,
    mixpanel_event_inferred: mixpanelNameOf(spec.type)?.inferred ?? false,
    selectable: !spec.legacy,
    fields: Object.entries(spec.fields).map(([name, f]) => ({ name, type: f.type, nullable: f.nullable, placement: f.placement })),
  };
}

export function eventTypeCatalogue(): { groups: EventTypeGroup[]; legacy: EventTypeView[] } {
  const groups: EventTypeGroup[] = (['behaviors', 'campaigns', 'canvas', 'messages'] as const).map((category) => ({
    category,
    label: CATEGORY_LABELS[category],
    types: [],
  }));
  const legacy: EventTypeView[] = [];
  for (const type of CURRENTS_EVENT_TYPES) {
    const spec = eventTypeSpec(type)!;
    if (spec.legacy) {
      legacy.push(view(spec));
      continue;
    }
    const group = groups.find((g) => g.category === spec.category)!;
    group.types.push(view(spec));
    if (spec.channel !== null) {
      const channels = (group.channels ??= []);
      if (!channels.some((c) => c.channel === spec.channel)) channels.push({ channel: spec.channel, label: CHANNEL_LABELS[spec.channel] });
    }
  }
  return { groups, legacy };
}
