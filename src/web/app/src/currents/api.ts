/**
 * The Currents admin API as the dashboard reads it: its routes, and its shapes from the server's
 * own contract (src/currents/contract.ts), so a renamed field there breaks this type check.
 */
import type { Static } from 'typebox';
import type * as Contract from '../../../../currents/contract';

export const CURRENTS_ROUTES = {
  list: '/admin/currents',
  createMixpanel: '/admin/currents/mixpanel',
  eventTypes: '/admin/currents/event-types',
  one: (id: string) => `/admin/currents/${encodeURIComponent(id)}`,
  status: (id: string) => `/admin/currents/${encodeURIComponent(id)}/status`,
  pause: (id: string) => `/admin/currents/${encodeURIComponent(id)}/pause`,
  resume: (id: string) => `/admin/currents/${encodeURIComponent(id)}/resume`,
  deadLetters: (id: string) => `/admin/currents/${encodeURIComponent(id)}/dead-letters`,
  history: (id: string) => `/admin/currents/${encodeURIComponent(id)}/history`,
};

export type Connector = Static<typeof Contract.Connector>;
export type ConnectorPage = Static<typeof Contract.ConnectorPage>;
export type ConnectorListItem = Static<typeof Contract.ConnectorListItem>;
export type History = Static<typeof Contract.History>;
export type HistoryPoint = Static<typeof Contract.HistoryPoint>;
export type ChangedConnector = Static<typeof Contract.ChangedConnector>;
export type ConnectorStatus = Static<typeof Contract.ConnectorStatus>;
export type ReasonCount = Static<typeof Contract.ReasonCount>;
export type DeadLetter = Static<typeof Contract.DeadLetter>;
export type DeadLetterPage = Static<typeof Contract.DeadLetterPage>;
export type ResendReport = Static<typeof Contract.ResendReport>;
export type ConnectionTestResult = Static<typeof Contract.ConnectionTestResult>;
export type EventTypeGroup = Static<typeof Contract.EventTypeGroup>;
export type EventTypeCatalogue = Static<typeof Contract.EventTypeCatalogue>;
