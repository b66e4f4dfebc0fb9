import { describe, expect, it } from 'vitest';
import { CURRENTS_EVENT_TYPES, SELECTABLE_EVENT_TYPES } from '../../events/index.js';
import { mixpanelEventName, mixpanelNameOf } from './event-names.js';

describe("Mixpanel's event names", () => {
  it('names Mixpanel events, inferred flags and legacy types', () => {
    const ev = (event_type: string, properties: Record<string, unknown> = {}) => ({ event_type, properties });
    expect(mixpanelEventName(ev('users.behaviors.CustomEvent', { name: 'rented_movie' }))).toBe('[Braze Custom Event] rented_movie');
    expect(mixpanelEventName(ev('users.messages.email.Send'))).toBe('Email Send');
    expect(mixpanelEventName(ev('users.messages.sms.CarrierSend'))).toBe('SMS Carrier Send');
    expect(mixpanelEventName(ev('users.campaigns.Abort'))).toBe('Campaign Abort');
    expect(mixpanelNameOf('users.campaigns.Abort')!.inferred).toBe(true);
    expect(mixpanelNameOf('users.messages.email.Send')!.inferred).toBe(false);
    expect(mixpanelEventName(ev('users.messages.newsfeedcard.Impression'))).toBeNull();
    expect(mixpanelEventName(ev('users.nope.Thing'))).toBeNull();
    expect(mixpanelEventName(ev('constructor'))).toBeNull();
  });

  it('names exactly the selectable types of the catalogue', () => {
    expect(CURRENTS_EVENT_TYPES.filter((t) => mixpanelNameOf(t) !== null)).toEqual(SELECTABLE_EVENT_TYPES);
  });
});
