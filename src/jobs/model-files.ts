import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { Model } from '../entities';
import type { ModelRef } from '../workers/inference.types';
import { modelOnnx } from '../db/sql/models.sql';
import { run } from '../db/sql/statement';

/**
 * Inference workers load models from files: each model is written once, under its SHA-256,
 * into the cache directory (atomically, so a worker never reads half a file).
 */
export async function modelRefs(
  ds: DataSource,
  ids: string[],
  cacheDir: string,
): Promise<ModelRef[]> {
  if (ids.length === 0) return [];
  const models = await ds.getRepository(Model).find({
    select: {
      id: true,
      sha256: true,
      inputName: true,
      outputName: true,
      outputKind: true,
      embeddingOutputName: true,
      temperature: true,
    },
    where: ids.map((id) => ({ id })),
  });
  const byId = new Map(models.map((m) => [m.id, m]));
  // Private to this user; the workers also check each file's SHA-256 before loading it.
  fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const refs: ModelRef[] = [];
  for (const id of ids) {
    const m = byId.get(id);
    if (!m) throw new Error(`model ${id} no longer exists`);
    const file = path.join(cacheDir, `${m.sha256}.onnx`);
    if (!fs.existsSync(file)) {
      const [{ onnx }] = await run<{ onnx: Buffer }>(ds, modelOnnx(id));
      const tmp = `${file}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`;
      fs.writeFileSync(tmp, onnx);
      fs.renameSync(tmp, file);
    }
    refs.push({
      sha256: m.sha256,
      path: file,
      inputName: m.inputName,
      outputName: m.outputName,
      outputKind: m.outputKind,
      embeddingOutputName: m.embeddingOutputName,
      temperature: m.temperature,
    });
  }
  return refs;
}
