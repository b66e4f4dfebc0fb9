/**
 * Builds the browser SDK in Vite's library mode into `dist/sdk-client/`: `rivulet.js` (an IIFE
 * defining `window.rivulet`, served by Rivulet at `/sdk/v1/rivulet.js`) and `rivulet.mjs` (an ES
 * module for bundlers).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    outDir: fileURLToPath(new URL('../../dist/sdk-client', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2020',
    lib: {
      entry: fileURLToPath(new URL('./src/index.ts', import.meta.url)),
      name: 'rivulet',
      formats: ['iife', 'es'],
      fileName: (format) => (format === 'iife' ? 'rivulet.js' : 'rivulet.mjs'),
    },
  },
});
