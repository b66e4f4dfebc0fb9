/**
 * Builds the SDK's service worker logic (src/sw.ts) into `dist/sdk-sw/rivulet-sw.js`: a classic
 * script (IIFE) a site imports into its own worker with `importScripts`, served by Rivulet at
 * `/sdk/v1/rivulet-sw.js`. Its own folder, so neither build empties the other's.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    outDir: fileURLToPath(new URL('../../dist/sdk-sw', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2020',
    lib: {
      entry: fileURLToPath(new URL('./src/sw.ts', import.meta.url)),
      name: 'rivuletServiceWorker',
      formats: ['iife'],
      fileName: () => 'rivulet-sw.js',
    },
  },
});
