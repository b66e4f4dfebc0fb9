/** Tracking: the Braze-shaped `/users/*` API and the SDK-style session endpoint. */
export { trackingRoutes, type TrackingHooks } from './routes.js';
export { createTracker, trackGroupOptions, type Tracker } from './track.js';
export { identifyUsers, newAliases } from './identify.js';
export { exportIds } from './export-ids.js';
export { startSession, endSession, changeUser } from './sessions.js';
export { isCalendarDate, parseTime } from './time.js';
export { isPlainObject, measureJson } from './json-shape.js';
