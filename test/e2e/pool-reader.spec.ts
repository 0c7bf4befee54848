import type { Database } from '../../src/db/database';
import { countRows, FeatureChunk, streamFeatures } from '../../src/db/pool-reader';
import { backends, freshDatabase } from '../helpers/db';

const DIM = 64;
/** Items written in turn: three of dataset A, then one of dataset B, so their ids interleave. */
const ITEMS = 4000;
const INSERT_BATCH = 1000;

/** The vector of item `n`, with values of every magnitude and sign. */
function vectorOf(n: number): Float32Array {
  return Float32Array.from({ length: DIM }, (_, j) => Math.sin(n * 31 + j) * 10 ** ((j % 9) - 4));
}

function bits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

async function collect(stream: AsyncGenerator<FeatureChunk>): Promise<FeatureChunk[]> {
  const chunks: FeatureChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

for (const backend of backends()) {
  describe(`streamFeatures on ${backend}`, () => {
    let db: Database;
    let drop: () => Promise<void>;
    let datasetA: string;
    let datasetB: string;
    /** Dataset A's POOL items in id order: id and the `n` its vector was made from. */
    let expected: { id: bigint; n: number }[];

    const selectPool =
      (datasetId: string) =>
      (afterId: string, limit: number): string =>
        `SELECT id, features FROM item WHERE dataset_id = '${datasetId}' AND split = 'POOL' AND id > ${afterId} ORDER BY id LIMIT ${limit}`;

    beforeAll(async () => {
      ({ db, drop } = await freshDatabase(backend));
      const createDataset = async (name: string): Promise<string> => {
        const [row] = await db.ds.query(
          'INSERT INTO dataset (name, classes, feature_dim) VALUES ($1, $2, $3) RETURNING id',
          [name, ['x', 'y'], DIM],
        );
        return row.id;
      };
      datasetA = await createDataset('a');
      datasetB = await createDataset('b');
      for (let start = 0; start < ITEMS; start += INSERT_BATCH) {
        const ns = Array.from({ length: INSERT_BATCH }, (_, i) => start + i);
        await db.ds.query(
          `INSERT INTO item (dataset_id, external_id, features, split)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::item_split[])`,
          [
            ns.map((n) => (n % 4 === 3 ? datasetB : datasetA)),
            ns.map(String),
            ns.map((n) => Buffer.from(vectorOf(n).buffer)),
            // Every 4th item of dataset A is held out: the WHERE clause must skip it.
            ns.map((n) => (n % 4 !== 3 && Math.floor(n / 4) % 4 === 0 ? 'TEST' : 'POOL')),
          ],
        );
      }
      const rows: { id: string; external_id: string }[] = await db.ds.query(
        `SELECT id, external_id FROM item WHERE dataset_id = $1 AND split = 'POOL' ORDER BY id`,
        [datasetA],
      );
      expected = rows.map((r) => ({ id: BigInt(r.id), n: Number(r.external_id) }));
    }, 120_000);

    afterAll(async () => {
      await drop?.();
    });

    it('streams every selected row in id order with its vector bit for bit', async () => {
      expect(expected).toHaveLength(2250);
      const chunks = await collect(
        streamFeatures(db, { selectSql: selectPool(datasetA), featureDim: DIM, chunkRows: 700 }),
      );
      expect(chunks.map((c) => c.rows)).toEqual([700, 700, 700, 150]);
      for (const chunk of chunks) {
        expect(chunk.dim).toBe(DIM);
        expect(chunk.ids).toHaveLength(chunk.rows);
        expect(chunk.features).toHaveLength(chunk.rows * DIM);
        // Exactly sized memory, so a chunk can be transferred to a worker whole.
        expect(chunk.features.buffer.byteLength).toBe(chunk.rows * DIM * 4);
      }
      const ids = chunks.flatMap((c) => Array.from(c.ids));
      expect(ids).toEqual(expected.map((e) => e.id));
      let row = 0;
      for (const chunk of chunks) {
        for (let r = 0; r < chunk.rows; r++, row++) {
          const got = bits(chunk.features.subarray(r * DIM, (r + 1) * DIM));
          const want = bits(vectorOf(expected[row].n));
          if (!got.every((v, j) => v === want[j])) {
            throw new Error(`row ${row} (item ${ids[row]}) came back with other bits`);
          }
        }
      }
    });

    it('yields no empty chunk when the rows divide into whole chunks', async () => {
      const chunks = await collect(
        streamFeatures(db, { selectSql: selectPool(datasetA), featureDim: DIM, chunkRows: 750 }),
      );
      expect(chunks.map((c) => c.rows)).toEqual([750, 750, 750]);
    });

    it('starts after the id it is given', async () => {
      const from = expected[1000];
      const chunks = await collect(
        streamFeatures(db, {
          selectSql: selectPool(datasetA),
          featureDim: DIM,
          chunkRows: 5000,
          afterId: from.id.toString(),
        }),
      );
      expect(chunks.map((c) => c.rows)).toEqual([1249]);
      expect(chunks[0].ids[0]).toBe(expected[1001].id);
    });

    it('streams nothing from a selection with no rows', async () => {
      const none = (afterId: string, limit: number) =>
        `SELECT id, features FROM item WHERE false AND id > ${afterId} ORDER BY id LIMIT ${limit}`;
      expect(
        await collect(streamFeatures(db, { selectSql: none, featureDim: DIM, chunkRows: 10 })),
      ).toEqual([]);
    });

    it('stops with the signal’s reason between chunks, and before it starts', async () => {
      const controller = new AbortController();
      const stream = streamFeatures(db, {
        selectSql: selectPool(datasetA),
        featureDim: DIM,
        chunkRows: 700,
        signal: controller.signal,
      });
      const first = await stream.next();
      expect(first.value?.rows).toBe(700);
      controller.abort();
      await expect(stream.next()).rejects.toMatchObject({ name: 'AbortError' });

      const before = streamFeatures(db, {
        selectSql: () => {
          throw new Error('no query may run once aborted');
        },
        featureDim: DIM,
        chunkRows: 700,
        signal: AbortSignal.abort(),
      });
      await expect(before.next()).rejects.toMatchObject({ name: 'AbortError' });
    });

    it('stops when aborted while a chunk is being queried, yielding nothing of it', async () => {
      const controller = new AbortController();
      let queries = 0;
      const seen: number[] = [];
      const consume = async (): Promise<void> => {
        const stream = streamFeatures(db, {
          selectSql: (afterId, limit) => {
            if (++queries === 2) controller.abort(new Error('round cancelled'));
            return selectPool(datasetA)(afterId, limit);
          },
          featureDim: DIM,
          chunkRows: 500,
          signal: controller.signal,
        });
        for await (const chunk of stream) seen.push(chunk.rows);
      };
      await expect(consume()).rejects.toThrow('round cancelled');
      expect(seen).toEqual([500]);
      expect(
        await countRows(db, `SELECT count(*) FROM item WHERE dataset_id = '${datasetA}'`),
      ).toBe(3000);
    });

    // PGlite runs a query as one call that cannot be interrupted; PostgreSQL's COPY streams.
    if (backend === 'postgres') {
      it('stops in the middle of a COPY when aborted, and leaves the database usable', async () => {
        const controller = new AbortController();
        // The sleep holds the COPY open long enough for the abort to land inside it.
        const slow = (afterId: string, limit: number) =>
          `SELECT id, features FROM item, pg_sleep(0.3) WHERE dataset_id = '${datasetA}' AND id > ${afterId} ORDER BY id LIMIT ${limit}`;
        const stream = streamFeatures(db, {
          selectSql: slow,
          featureDim: DIM,
          chunkRows: 5000,
          signal: controller.signal,
        });
        const started = Date.now();
        setTimeout(() => controller.abort(new Error('round cancelled')), 50);
        await expect(stream.next()).rejects.toThrow('round cancelled');
        expect(Date.now() - started).toBeLessThan(300);
        const [{ n }] = await db.ds.query('SELECT count(*)::int AS n FROM item');
        expect(n).toBe(ITEMS);
      });
    }

    it('refuses vectors of another length than featureDim, and leaves the database usable', async () => {
      const stream = streamFeatures(db, {
        selectSql: selectPool(datasetA),
        featureDim: DIM / 2,
        chunkRows: 700,
      });
      await expect(stream.next()).rejects.toThrow(
        `item ${expected[0].id} has ${DIM * 4} bytes of features, expected ${DIM * 2} (${DIM / 2} float32 values)`,
      );
      expect(
        await countRows(
          db,
          `SELECT count(*) FROM item WHERE dataset_id = '${datasetB}' AND split = 'POOL'`,
        ),
      ).toBe(1000);
    });

    it('refuses a selection that is not in id order', async () => {
      const descending = (afterId: string, limit: number) =>
        `SELECT id, features FROM item WHERE dataset_id = '${datasetA}' AND id > ${afterId} ORDER BY id DESC LIMIT ${limit}`;
      await expect(
        collect(streamFeatures(db, { selectSql: descending, featureDim: DIM, chunkRows: 100 })),
      ).rejects.toThrow(/gave id \d+ after \d+; it must select ids above afterId and ORDER BY id/);
    });

    it('passes on a failing query, and leaves the database usable', async () => {
      const broken = (afterId: string, limit: number) =>
        `SELECT id, no_such_column FROM item WHERE id > ${afterId} ORDER BY id LIMIT ${limit}`;
      await expect(
        collect(streamFeatures(db, { selectSql: broken, featureDim: DIM, chunkRows: 100 })),
      ).rejects.toThrow('no_such_column');
      expect(await countRows(db, 'SELECT count(*) FROM dataset')).toBe(2);
    });

    it('runs beside other transactions without mixing with them', async () => {
      const writes = Array.from({ length: 20 }, (_, i) =>
        db.ds.transaction(async (manager) => {
          await manager.query(
            `INSERT INTO item (dataset_id, external_id, features, split) VALUES ($1, $2, $3, 'TEST')`,
            [datasetB, `concurrent-${i}`, Buffer.from(vectorOf(i).buffer)],
          );
          await manager.query('SELECT pg_sleep(0.001)');
        }),
      );
      const [chunks] = await Promise.all([
        collect(
          streamFeatures(db, { selectSql: selectPool(datasetA), featureDim: DIM, chunkRows: 300 }),
        ),
        ...writes,
      ]);
      expect(chunks.flatMap((c) => Array.from(c.ids))).toEqual(expected.map((e) => e.id));
      expect(
        await countRows(db, `SELECT count(*) FROM item WHERE external_id LIKE 'concurrent-%'`),
      ).toBe(20);
    });
  });
}
