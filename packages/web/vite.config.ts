import { defineConfig } from 'vite';

// Built into dist/ and served by Quarry at / (src/http/web.route.ts). Relative asset URLs so the
// app also works behind a path prefix; no CDN, nothing fetched at run time but the API.
export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 300,
  },
});
