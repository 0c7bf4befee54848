import fs from 'node:fs';
import { emittedSdl, SCHEMA_FILE } from '../../scripts/check-schema';
import { openDatabase, pendingSchemaChanges } from '../../src/db/database';

describe('committed contracts', () => {
  it('has a schema.graphql equal to the SDL the code emits', async () => {
    expect(await emittedSdl()).toBe(fs.readFileSync(SCHEMA_FILE, 'utf8'));
  });

  it('has migrations that build exactly the schema the entities describe', async () => {
    const db = await openDatabase({ dataDir: 'memory://' });
    try {
      expect((await pendingSchemaChanges(db)).up).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
