/**
 * Builds the dashboard into `dist/dashboard`, served by the Rivulet server at `/dashboard/`.
 * No React plugin: the JSX transform is Vite's own (oxc), which is all a production build needs.
 * `npm run dev:web` proxies the API to a server on :3000 for working on the UI.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig(({ command }) => ({
  root: here,
  // React's production build even when the caller's NODE_ENV says otherwise (a build inside Vitest).
  define: command === 'build' ? { 'process.env.NODE_ENV': JSON.stringify('production') } : {},
  base: '/dashboard/',
  oxc: { jsx: { runtime: 'automatic', development: command !== 'build' } },
  build: {
    outDir: fileURLToPath(new URL('../../../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { '/admin': 'http://127.0.0.1:3000', '/dashboard/api': 'http://127.0.0.1:3000', '/users': 'http://127.0.0.1:3000' },
  },
}));
