/**
 * Builds the dashboard into `dist/dashboard`, served by the Rivulet server at `/dashboard/`.
 * No React plugin: the JSX transform is Vite's own (oxc), which is all a production build needs.
 * `npm run dev:web` proxies the API to a server on :3000 for working on the UI.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/dashboard/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: fileURLToPath(new URL('../../../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { '/admin': 'http://127.0.0.1:3000', '/dashboard/api': 'http://127.0.0.1:3000', '/users': 'http://127.0.0.1:3000' },
  },
});
