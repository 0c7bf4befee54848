import { loadConfig } from '../../config';
import { ApiKeyRole } from '../../entities/enums';
import { err, out } from '../output';

// Loaded only by the commands that open the database (see serve.command.ts).
const database = () => import('../../db/database.js');

/** `quarry keys create`: makes an API key in the database directly and prints it once. */
export async function keysCreate(opts: {
  name: string;
  role: string;
  datasets?: string[];
}): Promise<void> {
  const role = opts.role.toUpperCase() as ApiKeyRole;
  const config = loadConfig();
  const { openDatabase } = await database();
  const { ApiKeyService } = await import('../../services/api-key.service.js');
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const { key, secret } = await new ApiKeyService(db.ds).create({
      name: opts.name,
      role,
      datasetIds: opts.datasets ?? null,
    });
    err(
      `Created ${key.role} key ${JSON.stringify(key.name)} (id ${key.id}). It is shown this once:`,
    );
    out(secret);
  } finally {
    await db.close();
  }
}
