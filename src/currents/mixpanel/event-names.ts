/**
 * Mixpanel's names for Currents event types (docs/reference/currents.md §1, the "Mixpanel event"
 * column; §2.2 for the custom event). The event catalogue (src/events/) is platform-neutral; what
 * an event is called in Mixpanel belongs to this destination. A name ending in " (inferred)"
 * follows Braze's naming pattern where no Braze document states it. Legacy types have no name:
 * they are never exported.
 */
import { CUSTOM_EVENT_TYPE, type CurrentsEvent } from '../../events/index.js';

/** A CustomEvent is sent as this prefix followed by its `name` property. */
export const CUSTOM_EVENT_PREFIX = '[Braze Custom Event] ';
const INFERRED = ' (inferred)';

/** Type → Mixpanel event name, in the reference's notation; a Map so no type finds Object.prototype's members. */
const NAMES: ReadonlyMap<string, string> = new Map(
  Object.entries({
    // users.behaviors.*
    'users.behaviors.CustomEvent': '[Braze Custom Event] <name>',
    'users.behaviors.InstallAttribution': 'Install Attribution',
    'users.behaviors.Location': 'Location',
    'users.behaviors.Purchase': 'Purchase',
    'users.behaviors.Uninstall': 'Uninstall',
    'users.behaviors.app.FirstSession': 'First Session',
    'users.behaviors.app.SessionEnd': 'Session End',
    'users.behaviors.app.SessionStart': 'Session Start',
    'users.behaviors.subscription.GlobalStateChange': 'Global Subscription State Change',
    'users.behaviors.subscriptiongroup.StateChange': 'Subscription Group State Change',
    // users.campaigns.*
    'users.campaigns.Abort': 'Campaign Abort (inferred)',
    'users.campaigns.Conversion': 'Campaign Conversion',
    'users.campaigns.EnrollInControl': 'Campaign Control Group Enrollment',
    // users.canvas.*
    'users.canvas.Abort': 'Canvas Abort (inferred)',
    'users.canvas.Conversion': 'Canvas Conversion',
    'users.canvas.Entry': 'Canvas Entry',
    'users.canvas.exit.MatchedAudience': 'Exit Match Audience',
    'users.canvas.exit.PerformedEvent': 'Exit Perform Event',
    'users.canvas.experimentstep.Conversion': 'Experiment Step Conversion',
    'users.canvas.experimentstep.SplitEntry': 'Experiment Split Entry',
    // users.messages.contentcard.*
    'users.messages.contentcard.Abort': 'Content Card Abort',
    'users.messages.contentcard.Click': 'Content Card Click',
    'users.messages.contentcard.Dismiss': 'Content Card Dismiss',
    'users.messages.contentcard.Impression': 'Content Card Impression',
    'users.messages.contentcard.Send': 'Content Card Send',
    // users.messages.email.*
    'users.messages.email.Abort': 'Email Abort',
    'users.messages.email.Bounce': 'Email Bounce',
    'users.messages.email.Click': 'Email Click',
    'users.messages.email.Deferral': 'Email Deferral',
    'users.messages.email.Delivery': 'Email Delivery',
    'users.messages.email.MarkAsSpam': 'Email Mark As Spam',
    'users.messages.email.Open': 'Email Open',
    'users.messages.email.Send': 'Email Send',
    'users.messages.email.SoftBounce': 'Email Soft Bounce',
    'users.messages.email.Unsubscribe': 'Email Unsubscribe',
    // users.messages.inappmessage.*
    'users.messages.inappmessage.Abort': 'In-App Message Abort (inferred)',
    'users.messages.inappmessage.Click': 'In-App Message Click',
    'users.messages.inappmessage.Impression': 'In-App Message Impression',
    // users.messages.pushnotification.*
    'users.messages.pushnotification.Abort': 'Push Notification Abort',
    'users.messages.pushnotification.Bounce': 'Push Notification Bounce',
    'users.messages.pushnotification.IosForeground': 'Push Notification iOS Foreground (inferred)',
    'users.messages.pushnotification.Open': 'Push Notification Open',
    'users.messages.pushnotification.Send': 'Push Notification Send',
    // users.messages.sms.*
    'users.messages.sms.Abort': 'SMS Abort',
    'users.messages.sms.CarrierSend': 'SMS Carrier Send',
    'users.messages.sms.Delivery': 'SMS Delivery (inferred)',
    'users.messages.sms.DeliveryFailure': 'SMS Delivery Failure (inferred)',
    'users.messages.sms.InboundReceive': 'SMS Inbound Received',
    'users.messages.sms.Rejection': 'SMS Rejection',
    'users.messages.sms.Send': 'SMS Send',
    'users.messages.sms.ShortLinkClick': 'SMS Short Link Click (inferred)',
    // users.messages.webhook.*
    'users.messages.webhook.Abort': 'Webhook Abort (inferred)',
    'users.messages.webhook.Send': 'Webhook Send',
    // users.messages.newsfeedcard.*: legacy, not exported
  }),
);

export interface MixpanelName {
  /** As the connector form shows it (`[Braze Custom Event] <name>` for the custom event). */
  name: string;
  /** True when the name follows Braze's pattern but no Braze document states it. */
  inferred: boolean;
}

/** The Mixpanel name of an event type, or `null` for an unknown or legacy type. */
export function mixpanelNameOf(type: string): MixpanelName | null {
  const name = NAMES.get(type);
  if (name === undefined) return null;
  const inferred = name.endsWith(INFERRED);
  return { name: inferred ? name.slice(0, -INFERRED.length) : name, inferred };
}

/** The reference's notation for a type's name (`… (inferred)`), or `null`: what docs/reference/currents.md §1 lists. */
export function documentedMixpanelName(type: string): string | null {
  return NAMES.get(type) ?? null;
}

/**
 * The Mixpanel event name of an event, or `null` when its type is unknown or legacy.
 * A CustomEvent is named after its `name` property, one space after the bracket.
 */
export function mixpanelEventName(event: Pick<CurrentsEvent, 'event_type' | 'properties'>): string | null {
  const spec = mixpanelNameOf(event.event_type);
  if (spec === null) return null;
  if (event.event_type === CUSTOM_EVENT_TYPE) return CUSTOM_EVENT_PREFIX + String(event.properties['name'] ?? '');
  return spec.name;
}
