/** The dashboard: its server side (`server/`); the browser app (`app/`) is built by Vite and served as files. */
export * from './server/index.js';
