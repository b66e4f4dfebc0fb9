/** One event in Mixpanel's `/import` shape: what the mapping builds and the limits fit. */
export interface MixpanelEvent {
  event: string;
  properties: Record<string, unknown>;
}
