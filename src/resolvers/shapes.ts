import type { Label } from '../entities';
import { LabelSource } from '../entities';
import type { ClassificationMetrics } from '../ml/classification-metrics';
import type { LabelNode } from '../schema/label.types';
import type {
  ModelCalibrationNode,
  ModelMetricsNode,
  ModelStoppingNode,
  PredictionNode,
} from '../schema/model.types';
import type { CalibrationFacts } from '../services/model.service';
import type { StoppingRecord } from '../services/stopping';
import type { PredictionRow } from '../services/item.service';
import type { PluginShape } from '../schema/base.types';
import type { Plugin, PluginRegistry } from '../plugins/registry';
import type { GraphQLContext } from './context';

/**
 * A class index as the API shows it: the dataset's class name, or the index itself when the
 * dataset (or the class) is missing.
 */
export function className(classes: readonly string[] | undefined, index: number): string {
  return classes?.[index] ?? String(index);
}

/** A dataset's class names, through the request's loader; undefined when the dataset is gone. */
export async function datasetClasses(
  ctx: GraphQLContext,
  datasetId: string,
): Promise<string[] | undefined> {
  return (await ctx.loaders.dataset.load(datasetId))?.classes;
}

/**
 * The record a row refers to (`loadReferenced(ctx.loaders.item, query.itemId, 'item', \`query 7\`)`).
 * The database keeps such references, so a missing one is a server fault, not a client error.
 */
export async function loadReferenced<T>(
  loader: { load(id: string): Promise<T | null> },
  id: string,
  what: string,
  of: string,
): Promise<T> {
  const found = await loader.load(id);
  if (!found) throw new Error(`${what} ${id} of ${of} is missing`);
  return found;
}

/** Shapes a stored label for GraphQL: the class name comes from its dataset. */
export async function toLabelNode(label: Label, ctx: GraphQLContext): Promise<LabelNode> {
  return {
    ...label,
    source: label.source as LabelSource,
    value: className(await datasetClasses(ctx, label.datasetId), label.classIndex),
    current: label.supersededAt === null,
  };
}

/** A registered plugin as the API describes it, with the parameters it takes when given none. */
export function toPluginNode<T extends Plugin>(
  registry: PluginRegistry<T>,
  plugin: T,
): PluginShape {
  return {
    code: plugin.code,
    description: plugin.description,
    paramsSchema: plugin.paramsSchema,
    defaults: registry.params(plugin.code, {}),
  };
}

/** Shapes a stored prediction for GraphQL, given its dataset's classes. */
export function toPredictionNode(
  p: PredictionRow,
  classes: readonly string[] | undefined,
): PredictionNode {
  return {
    modelId: p.modelId,
    classIndex: p.predictedClass,
    value: className(classes, p.predictedClass),
    confidence: p.confidence,
    createdAt: p.createdAt,
  };
}

/** The stored metrics as the schema shows them (class names, not indexes). */
export function toMetricsNode(
  metrics: Record<string, unknown> | null,
  classes: string[],
): ModelMetricsNode | null {
  if (!metrics) return null;
  const m = metrics as unknown as ClassificationMetrics;
  return {
    rows: m.rows,
    accuracy: m.accuracy,
    macroF1: m.macroF1,
    logLoss: m.logLoss,
    expectedCalibrationError: m.expectedCalibrationError,
    perClass: m.perClass.map((c, i) => ({ value: className(classes, i), ...c })),
    confusion: m.confusion,
    calibration: calibrationNode(metrics.calibration as CalibrationFacts | undefined),
  };
}

function calibrationNode(c: CalibrationFacts | undefined): ModelCalibrationNode | null {
  if (!c) return null;
  const calibrationFit = (f: CalibrationFacts['before']) => ({
    logLoss: f.logLoss,
    expectedCalibrationError: f.expectedCalibrationError,
    bins: f.calibrationBins,
  });
  return {
    temperature: c.temperature,
    before: calibrationFit(c.before),
    after: calibrationFit(c.after),
  };
}

/** How a model version was made: `trainer {options}`, or `uploaded`. */
export function madeBy(training: Record<string, unknown> | null): string {
  if (!training) return 'uploaded';
  const trainer = typeof training.trainer === 'string' ? training.trainer : 'trained';
  const options = training.options;
  return options && typeof options === 'object' && Object.keys(options).length > 0
    ? `${trainer} ${JSON.stringify(options)}`
    : trainer;
}

/** A model's stopping facts as the schema shows them. */
export function toStoppingNode(stopping: Record<string, unknown> | null): ModelStoppingNode | null {
  if (!stopping) return null;
  const s = stopping as unknown as StoppingRecord;
  return {
    kappa: s.kappa,
    meanKappa: s.meanKappa,
    stabilised: s.stabilised,
    fired: s.fired,
    stopSetSize: s.stopSetSize,
  };
}
