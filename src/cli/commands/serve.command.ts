import { loadConfig } from '../../config';
import { err } from '../output';

// The server loads only in the commands that use it: the API commands (import, export,
// simulate, ...) start without Express, Apollo or TypeORM.
const serverModule = () => import('../../server.js');

/** `quarry serve`: runs the server until SIGINT or SIGTERM, then stops it cleanly. */
export async function serve(): Promise<void> {
  const config = loadConfig();
  const { startServer } = await serverModule();
  const server = await startServer(config);
  const shutdown = (signal: string) => {
    err(`${signal} received, stopping…`);
    // New requests get 503 + Retry-After meanwhile; running jobs are handed back at once.
    server.stop({ drainMs: config.edge.shutdownDrainMs }).then(
      () => process.exit(0),
      (e) => {
        err(String(e));
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}
