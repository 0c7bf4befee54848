import fs from 'node:fs';
import path from 'node:path';
import express from 'express';

/**
 * The web app (packages/web, built by Vite) at `/`: its hashed assets cached for a year, the
 * page itself never cached, so a new build is picked up at the next load. Nothing comes from a
 * CDN: the app talks only to this server's /graphql. With no build (`npm run build` not run) `/`
 * says how to get one; with `dir` null nothing is served.
 */
export function webRoutes(dir: string | null): express.Router {
  const router = express.Router();
  if (dir === null) return router;
  const index = path.join(dir, 'index.html');
  const security = (res: express.Response) => {
    res.set({
      // Payload images may come from anywhere; scripts, styles and connections only from here.
      'Content-Security-Policy':
        "default-src 'self'; img-src * data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    });
  };
  router.get('/', (_req, res) => {
    security(res);
    if (!fs.existsSync(index)) {
      res
        .status(404)
        .type('text/plain')
        .send(`The web app is not built (no ${index}): run npm run build.\n`);
      return;
    }
    res.set('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
  router.use(
    '/assets',
    express.static(path.join(dir, 'assets'), {
      immutable: true,
      maxAge: '365d',
      index: false,
      fallthrough: false,
      setHeaders: (res) => res.set('X-Content-Type-Options', 'nosniff'),
    }),
  );
  return router;
}
