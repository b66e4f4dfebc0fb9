/**
 * The Currents admin API as the dashboard reads it: its routes, and its shapes from the server's
 * own contract (src/currents/contract.ts), so a renamed field there breaks this type check.
 */
import type { Static } from 'typebox';
import * as Contract from '../../../../currents/contract';

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

export const Connector = Contract.Connector;
export type Connector = Static<typeof Connector>;
export const ConnectorPage = Contract.ConnectorPage;
export type ConnectorPage = Static<typeof ConnectorPage>;
export const ConnectorListItem = Contract.ConnectorListItem;
export type ConnectorListItem = Static<typeof ConnectorListItem>;
export const History = Contract.History;
export type History = Static<typeof History>;
export const HistoryPoint = Contract.HistoryPoint;
export type HistoryPoint = Static<typeof HistoryPoint>;
export const ChangedConnector = Contract.ChangedConnector;
export type ChangedConnector = Static<typeof ChangedConnector>;
export const ConnectorStatus = Contract.ConnectorStatus;
export type ConnectorStatus = Static<typeof ConnectorStatus>;
export const ReasonCount = Contract.ReasonCount;
export type ReasonCount = Static<typeof ReasonCount>;
export const DeadLetter = Contract.DeadLetter;
export type DeadLetter = Static<typeof DeadLetter>;
export const DeadLetterPage = Contract.DeadLetterPage;
export type DeadLetterPage = Static<typeof DeadLetterPage>;
export const ResendReport = Contract.ResendReport;
export type ResendReport = Static<typeof ResendReport>;
export const ConnectionTestResult = Contract.ConnectionTestResult;
export type ConnectionTestResult = Static<typeof ConnectionTestResult>;
export const EventTypeGroup = Contract.EventTypeGroup;
export type EventTypeGroup = Static<typeof EventTypeGroup>;
export const EventTypeCatalogue = Contract.EventTypeCatalogue;
export type EventTypeCatalogue = Static<typeof EventTypeCatalogue>;
