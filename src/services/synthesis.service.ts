import { refreshStatistics } from '../db/statistics';
import crypto from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ApiKey, Dataset, Item, ItemOrigin, QueryMechanism, Round } from '../entities';
import { Permission } from './permissions';
import { BadUserInputError } from '../errors';
import type { EventBus } from './event-bus';
import { mulberry32, samplePermutation, seedFrom } from '../strategies/math';
import type { SynthesisMethodRegistry } from '../plugins/synthesis/registry';
import { MAX_SYNTHESIS_COUNT, MORE_IN_SEVERAL, synthesize } from './synthesize';
import { requireInt, requireSeed } from './validate';
import type { LabelledVectors } from '../plugins/synthesis/types';
import { DatasetService } from './dataset.service';
import { personLabelledPool } from '../db/sql/labels.sql';
import { answers, lockBudget, requireRemaining } from './budget';
import { openQueryBatch } from './round-lifecycle';
import * as synthesisSql from '../db/sql/synthesis.sql';
import { run } from '../db/sql/statement';

/**
 * Feature values of the labelled set one request loads (128 MiB of float32). A dataset with more
 * labelled items synthesises from a seeded uniform sample of them.
 */
export const MAX_SYNTHESIS_SOURCE_VALUES = 32 * 1024 * 1024;

/** Feature rows read per statement while loading the labelled set. */
const SOURCE_CHUNK_ROWS = 5000;

export interface SynthesizeItemsInput {
  datasetId: string;
  /** A method code from the synthesis registry, e.g. `smote`. */
  method: string;
  /** How many items to make: 1 to {@link SynthesisService.maxCount}. */
  count: number;
  /** The method's parameters; omitted ones take their defaults. */
  params?: unknown;
  /** Seeds the method's draws (and the sample of a very large labelled set); random when omitted. */
  seed?: number | null;
}

/** A synthetic item as created, with its features (the API returns them). */
export type SyntheticItemRow = Omit<Item, 'dataset' | 'groundTruth'>;

export interface SynthesizeItemsResult {
  items: SyntheticItemRow[];
  round: Round;
}

/**
 * Membership query synthesis: new items made in feature space from the labelled ones, each
 * queued for a human label as a SYNTHESIS query (one budget unit per answer it needs).
 *
 * What a method synthesises from: the dataset's POOL items of origin IMPORTED whose label is a
 * HUMAN or IMPORT one. VALIDATION and TEST items never parent a synthetic item (that would leak
 * evaluation data into training), MODEL labels are not trusted enough, and synthetic items do not
 * parent synthetic ones even once labelled: a chain of interpolations would drift away from
 * the real data while looking as well founded as the first generation.
 */
export class SynthesisService {
  /** The most items one request may make. */
  readonly maxCount: number;

  constructor(
    private readonly ds: DataSource,
    private readonly datasets: DatasetService,
    readonly registry: SynthesisMethodRegistry,
    private readonly events: EventBus,
    maxImportItems: number,
  ) {
    this.maxCount = Math.min(MAX_SYNTHESIS_COUNT, maxImportItems);
  }

  /**
   * Makes `count` items with the named method and opens them as one SYNTHESIS batch of queries.
   * Everything is checked before anything is written: the method, its params, the count, whether
   * the labelled set can serve the method (BAD_USER_INPUT), and then, in the transaction that
   * writes, the budget (BUDGET_EXHAUSTED: count × annotationsPerItem units must be free).
   */
  async synthesizeItems(key: ApiKey, input: SynthesizeItemsInput): Promise<SynthesizeItemsResult> {
    const dataset = await this.datasets.getAuthorized(
      key,
      input.datasetId,
      Permission.MANAGE_ROUNDS,
    );
    const seed = requireSeed(input.seed);
    // Method, count and params first: cheap, and a bad request should not read the labelled set.
    this.registry.get(input.method);
    requireInt(input.count, 'count', { min: 1, max: this.maxCount }, { overMax: MORE_IN_SEVERAL });
    const params = this.registry.params(input.method, input.params);
    const classes = (params as { classes?: unknown }).classes;
    if (Array.isArray(classes)) {
      const unknown = classes.filter(
        (c) => !(Number.isInteger(c) && c >= 0 && c < dataset.classes.length),
      );
      if (unknown.length > 0) {
        const message = `names class index${unknown.length === 1 ? '' : 'es'} ${unknown.join(', ')}, but the dataset's classes are indexes 0 to ${dataset.classes.length - 1} (${dataset.classes.map((name, i) => `${i}: ${name}`).join(', ')})`;
        throw new BadUserInputError(`params.classes ${message}.`, [
          { field: 'params.classes', message },
        ]);
      }
    }

    const labelled = await this.labelledSet(dataset, seed);
    const result = synthesize(this.registry, {
      method: input.method,
      params: input.params,
      count: input.count,
      labelled,
      seed,
      maxCount: this.maxCount,
    });

    const externalIds = new Map(labelled.itemIds.map((id, row) => [id, labelled.externalIds[row]]));
    return this.ds.transaction(async (m) => {
      const budget = await lockBudget(m, dataset.id);
      const k = budget.annotationsPerItem;
      requireRemaining(budget, input.count * k, {
        what: `synthesizeItems of ${input.count} item${input.count === 1 ? '' : 's'} (${answers(k)} each)`,
        instead: 'ask for fewer',
      });
      const batchId = crypto.randomUUID();
      const rows = result.vectors.map((v, i) => {
        const intendedClass =
          v.intendedClass === null ? null : (dataset.classes[v.intendedClass] ?? null);
        const synthesis = {
          method: result.method,
          params: result.params,
          seed,
          record: v.record,
          intendedClass,
          intendedClassIndex: v.intendedClass,
        };
        return {
          externalId: `synthetic:${result.method}:${batchId}:${i + 1}`,
          features: Buffer.from(v.features.buffer, v.features.byteOffset, v.features.byteLength),
          parents: v.parents,
          synthesis,
          payload: {
            synthetic: true,
            method: result.method,
            parents: v.parents,
            parentExternalIds: v.parents.map((p) => externalIds.get(p)),
          },
        };
      });
      const inserted: SyntheticItemRow[] = await run(
        m,
        synthesisSql.insertSyntheticItems(dataset.id, {
          externalIds: rows.map((r) => r.externalId),
          payloads: rows.map((r) => JSON.stringify(r.payload)),
          features: rows.map((r) => r.features),
          parents: rows.map((r) => `{${r.parents.join(',')}}`),
          syntheses: rows.map((r) => JSON.stringify(r.synthesis)),
        }),
      );
      await refreshStatistics(m, 'item', inserted.length);
      // Matched by external id: nothing promises RETURNING keeps the SELECT's order.
      const byExternal = new Map(inserted.map((r) => [r.externalId, r]));
      const items = rows.map((r) => byExternal.get(r.externalId)!);
      const { roundId } = await openQueryBatch(m, this.events, {
        budget,
        seed,
        mechanism: QueryMechanism.SYNTHESIS,
        label: `synthesis:${result.method}`,
        params: result.params,
        queries: items.map((item, i) => ({
          itemId: item.id,
          score: 0,
          reason: {
            synthesis: result.method,
            parents: rows[i].parents,
            intendedClass: rows[i].synthesis.intendedClass,
            ...rows[i].synthesis.record,
          },
        })),
        createdBy: key.id,
      });
      const round = await m.getRepository(Round).findOneByOrFail({ id: roundId });
      return { items, round };
    });
  }

  /**
   * The labelled set a method works on (see the class comment), in item id order; a seeded
   * uniform sample when it has more than {@link MAX_SYNTHESIS_SOURCE_VALUES} feature values.
   */
  private async labelledSet(
    dataset: Dataset,
    seed: number,
  ): Promise<LabelledVectors & { externalIds: string[] }> {
    const heads = await run<{ id: string; c: number }>(
      this.ds,
      personLabelledPool(dataset.id, ItemOrigin.IMPORTED),
    );
    const dim = dataset.featureDim;
    const cap = Math.max(1, Math.floor(MAX_SYNTHESIS_SOURCE_VALUES / dim));
    let chosen = heads;
    if (heads.length > cap) {
      const rows = Array.from(samplePermutation(heads.length, cap, mulberry32(seedFrom(seed))));
      chosen = rows.sort((a, b) => a - b).map((row) => heads[row]);
    }
    const features = new Float32Array(chosen.length * dim);
    const externalIds: string[] = new Array(chosen.length);
    for (let start = 0; start < chosen.length; start += SOURCE_CHUNK_ROWS) {
      const ids = chosen.slice(start, start + SOURCE_CHUNK_ROWS).map((h) => h.id);
      const found: { id: string; externalId: string; features: Buffer }[] = await run(
        this.ds,
        synthesisSql.itemVectors(ids),
      );
      const byId = new Map(found.map((r) => [r.id, r]));
      ids.forEach((id, j) => {
        const row = byId.get(id)!;
        const at = (start + j) * dim;
        new Uint8Array(features.buffer, at * 4, dim * 4).set(row.features);
        externalIds[start + j] = row.externalId;
      });
    }
    return {
      rows: chosen.length,
      dim,
      features,
      classes: Int32Array.from(chosen, (h) => h.c),
      itemIds: chosen.map((h) => h.id),
      externalIds,
    };
  }
}
