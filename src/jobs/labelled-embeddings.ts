import type { Database } from '../db/database';
import { streamFeatures } from '../db/pool-reader';
import { labelledFeaturesCopy } from '../db/sql/pool.sql';
import type { InferencePool } from '../workers/inference.pool';
import type { ModelRef } from '../workers/inference.types';

/**
 * The embeddings of the dataset's labelled POOL items by `model`: k-center's initial centres.
 * `check` runs before each chunk (a cancelled round stops).
 */
export async function labelledEmbeddings(
  deps: { db: Database; inference: InferencePool; chunkRows: number },
  dataset: { id: string; featureDim: number },
  model: ModelRef | undefined,
  check: () => Promise<void>,
): Promise<{ rows: number; embeddings: Float32Array } | undefined> {
  if (!model) return undefined;
  const parts: Float32Array[] = [];
  let rows = 0;
  // In item order, one chunk at a time: the strategy's seeds depend on the centres' order.
  for await (const chunk of streamFeatures(deps.db, {
    selectSql: labelledFeaturesCopy(dataset.id, 'POOL', 'any'),
    featureDim: dataset.featureDim,
    chunkRows: deps.chunkRows,
  })) {
    await check();
    const res = await deps.inference.score({
      models: [model],
      features: chunk.features,
      rows: chunk.rows,
      dim: chunk.dim,
      embeddings: true,
    });
    // Items whose embedding is not finite are left out (res.rows counts the rest).
    if (res.all?.embeddings) parts.push(res.all.embeddings);
    rows += res.rows;
  }
  if (rows === 0) return undefined;
  const embeddings = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    embeddings.set(p, at);
    at += p.length;
  }
  return { rows, embeddings };
}
