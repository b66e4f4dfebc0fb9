/**
 * The exporter's read of the event log: settled events after a cursor, in log order, for one
 * workspace. Batches of other workspaces move the cursor without being returned. The reading itself
 * is the event log's own (`readLogPage` in events/log.ts); this module names what the exporter uses.
 */
export { readLogPage, type LogPage } from '../../events/log.js';
