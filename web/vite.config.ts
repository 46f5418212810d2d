// Builds the web app (web/src) into web/dist, which the server serves at `/` (see src/server/app.ts).
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No inline scripts or data: URLs, so the app runs under a strict Content-Security-Policy.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    // `npx vite --config web/vite.config.ts` for development, next to `npm start` on port 8000.
    proxy: { '/api': 'http://127.0.0.1:8000', '/portal/api': 'http://127.0.0.1:8000' },
  },
});
