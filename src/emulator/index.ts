/** Emulators of the third-party services Rivulet talks to, for tests, the demo and local work. */
export * from './mixpanel/index.js';
export * from './mail-sink/index.js';
export * from './twilio/index.js';
export * from './push/index.js';
