/** Events: the platform-neutral event catalogue and the event log (append, read from a cursor, retention). */
export * from './catalogue.js';
export * from './log.js';
export * from './retention.js';
