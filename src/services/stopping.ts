/**
 * The stopping signal, written once: a dataset's stop set (up to 2,000 imported POOL items nobody
 * had labelled when the first model version was registered, in a fixed pseudo-random order),
 * each model version's predictions on it, Cohen's kappa against the previous version, and
 * "stabilised" when the mean of the last three kappas exceeds 0.99 (see `src/ml/stopping.ts`).
 * Computed when a model is registered (uploaded or trained), stored in `model.stopping`.
 */
import type { DataSource } from 'typeorm';
import type { Dataset } from '../entities';
import { featuresOfItems, stopSetCandidates } from '../db/sql/items.sql';
import { latestStopping, stopSetOf } from '../db/sql/models.sql';
import { run } from '../db/sql/statement';
import { readBudgets } from './budget';
import { packFeatures } from './features';
import { cohenKappa, MAX_STOP_SET, stoppingSignal, STOP_WINDOW } from '../ml/stopping';

/** What `model.stopping` holds. */
export interface StoppingRecord {
  /** The model whose registration drew the stop set; null: this one did (see `itemIds`). */
  stopSetModelId: string | null;
  /** The stop set's item ids, on the model that drew it only. */
  itemIds?: string[];
  stopSetSize: number;
  /** This version's predicted class of each stop-set item, in stop-set order. */
  predictions: number[];
  /** The version compared with; null for the first. */
  previousModelId: string | null;
  /** Cohen's kappa with the previous version's predictions; null for the first. */
  kappa: number | null;
  /** Mean of the last three kappas; null before there are three. */
  meanKappa: number | null;
  stabilised: boolean;
  /** This version is the one whose kappa made the signal fire. */
  fired: boolean;
}

/** The stop set a new model version is to be run on. */
export interface StopSet {
  /** Null when the stop set is drawn now, for this version. */
  ownerId: string | null;
  itemIds: string[];
  features: Float32Array;
}

interface LatestRow {
  id: string;
  version: number;
  stopping: StoppingRecord | null;
  accuracy: number | null;
}

/** The dataset's stop set (drawn now if no version has one yet); null when the pool is empty. */
export async function prepareStopSet(ds: DataSource, dataset: Dataset): Promise<StopSet | null> {
  const [latest] = await run<LatestRow>(ds, latestStopping(dataset.id, 1));
  let ownerId: string | null = null;
  let itemIds: string[];
  if (latest?.stopping) {
    ownerId = latest.stopping.stopSetModelId ?? latest.id;
    itemIds = (await run<{ id: string }>(ds, stopSetOf(ownerId))).map((r) => r.id);
  } else {
    itemIds = (await run<{ id: string }>(ds, stopSetCandidates(dataset.id, MAX_STOP_SET))).map(
      (r) => r.id,
    );
  }
  if (itemIds.length === 0) return null;
  const rows = await run<{ features: Buffer }>(ds, featuresOfItems(itemIds));
  if (rows.length !== itemIds.length) return null;
  return { ownerId, itemIds, features: packFeatures(rows, dataset.featureDim) };
}

/** The stopping record of a new version from its predictions on `stop`. */
export async function stoppingRecord(
  ds: DataSource,
  dataset: Dataset,
  stop: StopSet,
  predictions: Int16Array,
): Promise<StoppingRecord> {
  const latest = await run<LatestRow>(ds, latestStopping(dataset.id, STOP_WINDOW));
  const previous = latest[0]?.stopping ?? null;
  const sameSet =
    previous !== null &&
    stop.ownerId !== null &&
    (previous.stopSetModelId ?? latest[0].id) === stop.ownerId &&
    previous.predictions.length === predictions.length;
  const kappa = sameSet
    ? cohenKappa(previous.predictions, predictions, dataset.classes.length)
    : null;
  const history = latest
    .slice(0, STOP_WINDOW - 1)
    .reverse()
    .map((r) => r.stopping?.kappa ?? null);
  const signal = stoppingSignal([...history, kappa]);
  return {
    stopSetModelId: stop.ownerId,
    ...(stop.ownerId === null ? { itemIds: stop.itemIds } : {}),
    stopSetSize: stop.itemIds.length,
    predictions: Array.from(predictions),
    previousModelId: sameSet ? latest[0].id : null,
    kappa,
    meanKappa: signal.meanKappa,
    stabilised: signal.stabilised,
    fired: signal.stabilised && !(previous?.stabilised ?? false),
  };
}

/** The signal as a dataset shows it. */
export interface DatasetStopping {
  /** The latest version's stopping facts; null before any model. */
  modelVersion: number | null;
  stabilised: boolean;
  /**
   * The version whose kappa last made the signal fire (while stabilised: where the current stable
   * stretch began); null when it never fired.
   */
  stabilisedAtVersion: number | null;
  meanKappa: number | null;
  /** Kappas of the last three versions, oldest first (null: no previous version to compare). */
  recentKappas: (number | null)[];
  /** Validation accuracy of the last three versions, oldest first. */
  recentAccuracy: (number | null)[];
  /** Latest accuracy minus the one three versions back (null with fewer). */
  accuracyTrend: number | null;
  stopSetSize: number | null;
  /** Label units left; null without a budget. */
  budgetRemaining: number | null;
}

/** Rows read for {@link datasetStopping}: enough to find when the signal last fired. */
const HISTORY_ROWS = 1000;

/** A dataset's stopping signal now. */
export async function datasetStopping(ds: DataSource, datasetId: string): Promise<DatasetStopping> {
  const rows = await run<LatestRow>(ds, latestStopping(datasetId, HISTORY_ROWS));
  const [budget] = await readBudgets(ds, [datasetId]);
  const recent = rows.slice(0, STOP_WINDOW).reverse();
  const latest = rows[0];
  const fired = rows.find((r) => r.stopping?.fired);
  const accuracies = recent.map((r) => r.accuracy);
  const first = accuracies[0];
  const last = accuracies[accuracies.length - 1];
  return {
    modelVersion: latest?.version ?? null,
    stabilised: latest?.stopping?.stabilised ?? false,
    stabilisedAtVersion: fired?.version ?? null,
    meanKappa: latest?.stopping?.meanKappa ?? null,
    recentKappas: recent.map((r) => r.stopping?.kappa ?? null),
    recentAccuracy: accuracies,
    accuracyTrend:
      accuracies.length === STOP_WINDOW && first != null && last != null ? last - first : null,
    stopSetSize: latest?.stopping?.stopSetSize ?? null,
    budgetRemaining: budget?.remaining ?? null,
  };
}
