import type { EntityManager } from 'typeorm';
import type { QuarryConfig } from '../config';
import type { Database } from '../db/database';
import { ApiKey, Dataset, Model, Task, TaskKind, TaskStatus } from '../entities';
import {
  BadUserInputError,
  ConflictError,
  ErrorCode,
  InputProblem,
  NotFoundError,
  QuarryError,
} from '../errors';
import { authorizeRow, Permission } from './permissions';
import {
  certifyPerClass,
  certifyThreshold,
  clopperPearsonInterval,
  minimumCertifiableCount,
} from '../ml/precision-certificate';
import type { EventBus } from './event-bus';
import type { InferencePool } from '../workers/inference.pool';
import type { JobQueue } from '../jobs/job-queue';
import { modelRefs } from '../jobs/model-files';
import { scoreItems } from '../jobs/pool-scorer';
import { DatasetService } from './dataset.service';
import { isUuid, returnedRows } from '../db/db-errors';
import { validationTruth } from '../db/sql/labels.sql';
import { datasetClasses } from '../db/sql/datasets.sql';
import { answers, lockBudget, requireRemaining } from './budget';
import { closeRound } from './round-lifecycle';
import { labelledFeaturesCopy } from '../db/sql/pool.sql';
import * as runSql from '../db/sql/auto-label.sql';
import { run } from '../db/sql/statement';
import { taskListing } from '../db/sql/tasks.sql';
import { entityPage, type Page } from './pagination';
import { RoundStatus } from '../entities';
import { enqueueTask } from './task.service';
import { intProblem, randomSeed, SEED_RANGE } from './validate';
import {
  DEFAULT_CERTIFICATION_CONFIDENCE,
  ThresholdSource,
  type AutoLabelCertificate,
  type AgreementStats,
  type AutoLabelInput,
  type AutoLabelParams,
  type AutoLabelResult,
  type AutoLabelRunView,
  type ValidationFacts,
} from './auto-label.types';

export * from './auto-label.types';

/** The validation items as the run's model scored them. */
interface ScoredValidation {
  confidences: number[];
  correct: boolean[];
  predicted: number[];
  /** Items drawn at random from the pool by drawValidationSample. */
  drawn: number;
}

/**
 * Auto-labelling with audit: validated up front (nothing is created when anything is wrong; a
 * target precision is turned into a threshold at once, so too few validation labels are refused
 * immediately), run as a task job by `runAutoLabel`, then audited and, if need be, revoked.
 */
export class AutoLabelService {
  constructor(
    private readonly db: Database,
    private readonly config: QuarryConfig,
    private readonly datasets: DatasetService,
    private readonly jobs: JobQueue,
    private readonly events: EventBus,
    private readonly inference: InferencePool,
  ) {}

  private get ds() {
    return this.db.ds;
  }

  /**
   * Starts a run. BAD_USER_INPUT for a model of another dataset, not exactly one of threshold and
   * targetPrecision, values out of range, too few validation labels for the target or a target
   * no threshold reaches; BUDGET_EXHAUSTED when audits are asked for and no budget is left.
   */
  async start(key: ApiKey, input: AutoLabelInput): Promise<Task> {
    const dataset = await this.datasets.getAuthorized(
      key,
      input.datasetId,
      Permission.MANAGE_ROUNDS,
    );
    const problems: InputProblem[] = [];
    const has = (v: number | null | undefined): v is number => v !== undefined && v !== null;
    if (has(input.threshold) === has(input.targetPrecision)) {
      problems.push({ message: 'give exactly one of threshold and targetPrecision' });
    }
    if (has(input.threshold) && !(input.threshold > 0 && input.threshold <= 1)) {
      problems.push({
        field: 'threshold',
        message: `must be a probability in (0, 1]; got ${input.threshold}`,
      });
    }
    if (has(input.targetPrecision) && !(input.targetPrecision > 0 && input.targetPrecision <= 1)) {
      problems.push({
        field: 'targetPrecision',
        message: `must be a precision in (0, 1]; got ${input.targetPrecision}`,
      });
    }
    if (has(input.targetPrecision) && input.targetPrecision === 1) {
      problems.push({
        field: 'targetPrecision',
        message:
          'must be below 1: no finite number of validation labels certifies a precision of 1',
      });
    }
    if (has(input.confidence) && !(input.confidence > 0 && input.confidence < 1)) {
      problems.push({
        field: 'confidence',
        message: `must be in (0, 1); got ${input.confidence}`,
      });
    }
    if (!has(input.targetPrecision) && (has(input.confidence) || input.perClassThresholds)) {
      problems.push({
        field: has(input.confidence) ? 'confidence' : 'perClassThresholds',
        message: 'only applies with targetPrecision (a certified threshold)',
      });
    }
    if (!(input.auditRate >= 0 && input.auditRate <= 1)) {
      problems.push({ field: 'auditRate', message: `must be from 0 to 1; got ${input.auditRate}` });
    }
    const seed = input.seed ?? randomSeed();
    const seedProblem = intProblem(seed, SEED_RANGE);
    if (seedProblem) problems.push({ field: 'seed', message: seedProblem });
    const model = isUuid(input.modelId)
      ? await this.ds
          .getRepository(Model)
          .findOne({ select: { id: true, datasetId: true }, where: { id: input.modelId } })
      : null;
    if (!model || model.datasetId !== dataset.id) {
      problems.push({
        field: 'modelId',
        id: input.modelId,
        message: 'no model with this id in the dataset',
      });
    }
    if (problems.length > 0) throw BadUserInputError.forProblems('the auto-label run', problems);

    const scored = await this.scoreValidation(dataset, input.modelId);
    let threshold: number;
    let certificate: AutoLabelCertificate | null = null;
    let classThresholds: (number | null)[] | null = null;
    if (has(input.targetPrecision)) {
      certificate = this.certify(dataset, scored, {
        target: input.targetPrecision,
        confidence: input.confidence ?? DEFAULT_CERTIFICATION_CONFIDENCE,
        perClass: input.perClassThresholds ?? false,
      });
      threshold = certificate.threshold;
      classThresholds = certificate.classes?.map((c) => c.threshold) ?? null;
    } else {
      threshold = input.threshold as number;
    }
    const validation = validationFacts(scored, (c) =>
      classThresholds ? classThresholds[c] : threshold,
    );
    const params: AutoLabelParams = {
      modelId: input.modelId,
      threshold,
      thresholdSource: has(input.targetPrecision)
        ? ThresholdSource.CERTIFIED
        : ThresholdSource.FIXED,
      targetPrecision: input.targetPrecision ?? null,
      auditRate: input.auditRate,
      seed,
      validation,
      certificate,
      classThresholds,
    };
    const jobs = this.jobs;
    const task = await this.ds.transaction(async (m: EntityManager) => {
      // How many labels the run writes is known only once the pool is scored; the run checks the
      // budget again then. Here only a run that could not open a single audit is refused.
      if (input.auditRate > 0) {
        const budget = await lockBudget(m, dataset.id);
        const k = budget.annotationsPerItem;
        requireRemaining(budget, k, {
          what: `An auto-label run with audits (one audit takes ${answers(k)})`,
          instead: 'use auditRate 0',
        });
      }
      return enqueueTask(m, jobs, {
        datasetId: dataset.id,
        kind: TaskKind.AUTO_LABEL,
        params,
        createdBy: key.id,
        modelId: input.modelId,
      });
    });
    jobs.wakeTaskWorker();
    return task;
  }

  /**
   * The model's top class and its probability on each human-labelled validation item, and how
   * many of those items were drawn at random from the pool by `drawValidationSample`.
   */
  private async scoreValidation(dataset: Dataset, modelId: string): Promise<ScoredValidation> {
    const labels = await run<{ id: string; c: number; drawn: boolean }>(
      this.ds,
      validationTruth(dataset.id),
    );
    const scored: ScoredValidation = { confidences: [], correct: [], predicted: [], drawn: 0 };
    if (labels.length === 0) return scored;
    const truth = new Map(labels.map((l) => [l.id, l]));
    const [model] = await modelRefs(this.ds, [modelId], this.config.modelCacheDir);
    await scoreItems(
      { db: this.db, config: this.config, inference: this.inference },
      {
        selectSql: labelledFeaturesCopy(dataset.id, 'VALIDATION', 'human-or-import'),
        featureDim: dataset.featureDim,
        models: [model],
        onResult: (ids, res) => {
          ids.forEach((id, r) => {
            const label = truth.get(String(id));
            // Labelled after the label query above: not judged.
            if (label === undefined) return;
            scored.confidences.push(res.confidence[r]);
            scored.correct.push(res.predictedClass[r] === label.c);
            scored.predicted.push(res.predictedClass[r]);
            if (label.drawn) scored.drawn += 1;
          });
        },
      },
    );
    return scored;
  }

  /**
   * The certified threshold(s) for a target precision, or BAD_USER_INPUT saying how many more
   * validation labels would be needed when nothing can be certified (then nothing is written).
   */
  private certify(
    dataset: Dataset,
    scored: ScoredValidation,
    ask: { target: number; confidence: number; perClass: boolean },
  ): AutoLabelCertificate {
    const delta = 1 - ask.confidence;
    const options = { target: ask.target, delta };
    const total = scored.confidences.length;
    const base = {
      target: ask.target,
      confidence: ask.confidence,
      perClass: ask.perClass,
      validationLabels: total,
      drawnLabels: scored.drawn,
    };
    const refuse = (found: string, more: number | null): never => {
      const advice =
        more === null
          ? 'The model is not precise enough on the validation items at any candidate threshold: lower the target or train a better model.'
          : `About ${more} more validation label${more === 1 ? '' : 's'} drawn at random (drawValidationSample) would be needed if the model stays as precise as it is on them; or lower the target or the confidence.`;
      const message = `No threshold can be certified to give a precision of at least ${ask.target} with confidence ${ask.confidence}: ${found} Nothing was labelled. ${advice}`;
      throw new QuarryError(ErrorCode.BAD_USER_INPUT, message, {
        problems: [{ field: 'targetPrecision', message }],
        problemCount: 1,
        validationLabelsNeeded: more,
      });
    };
    if (!ask.perClass) {
      const c = certifyThreshold(scored.confidences, scored.correct, options);
      if (c.threshold === null) {
        const nMin = minimumCertifiableCount(ask.target, delta);
        refuse(
          c.tested.length === 0
            ? `no candidate threshold has the ${nMin} validation items at or above it that it would need even without an error (there are ${total} validation labels).`
            : `at the first candidate tested (${c.tested[0].threshold}), ${c.n} validation items with ${c.errors} errors give an exact lower bound of ${c.bound.toFixed(4)}.`,
          total === 0 ? nMin : c.moreLabelsNeeded,
        );
      }
      return {
        ...base,
        threshold: c.threshold!,
        n: c.n,
        errors: c.errors,
        bound: c.bound,
        classes: null,
      };
    }
    const { classes } = certifyPerClass(
      scored.confidences,
      scored.correct,
      scored.predicted,
      dataset.classes.length,
      options,
    );
    const certified = classes.filter((c) => c.threshold !== null);
    if (certified.length === 0) {
      const needs = classes.map((c) => c.moreLabelsNeeded).filter((n): n is number => n !== null);
      refuse(
        `no class's threshold could be certified at ${(delta / classes.length).toPrecision(3)} each.`,
        needs.length > 0 ? Math.min(...needs) : null,
      );
    }
    return {
      ...base,
      threshold: Math.min(...certified.map((c) => c.threshold!)),
      n: certified.reduce((a, c) => a + c.n, 0),
      errors: certified.reduce((a, c) => a + c.errors, 0),
      bound: Math.min(...certified.map((c) => c.bound)),
      classes: classes.map((c, classIndex) => ({
        classIndex,
        value: dataset.classes[classIndex],
        threshold: c.threshold,
        n: c.n,
        errors: c.errors,
        bound: c.bound,
        delta: c.delta,
      })),
    };
  }

  private async load(key: ApiKey, id: string, permission: Permission): Promise<Task> {
    const task = isUuid(id)
      ? await this.ds.getRepository(Task).findOneBy({ id, kind: TaskKind.AUTO_LABEL })
      : null;
    if (!task) throw new NotFoundError('AutoLabelRun', id);
    authorizeRow(key, permission, task.datasetId, 'AutoLabelRun', id);
    return task;
  }

  async get(key: ApiKey, id: string): Promise<AutoLabelRunView> {
    return this.view(await this.load(key, id, Permission.READ_DATASET));
  }

  /** A page of a dataset's runs, newest first. */
  async list(
    key: ApiKey,
    datasetId: string,
    first?: number | null,
    after?: string | null,
  ): Promise<Page<AutoLabelRunView>> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.READ_DATASET);
    const page = await entityPage(this.ds, Task, {
      ...taskListing(dataset.id, TaskKind.AUTO_LABEL),
      kind: 'autoLabelRun',
      first,
      after,
    });
    return { ...page, nodes: await Promise.all(page.nodes.map((t) => this.view(t))) };
  }

  /**
   * The run with its audit: for each ANSWERED audit query, whether the people's answer equals the
   * run's MODEL label of the item; overall and by the label's class, with exact (Clopper-Pearson) 95% intervals.
   */
  async view(task: Task): Promise<AutoLabelRunView> {
    const params = task.params as unknown as AutoLabelParams;
    const result = task.result as AutoLabelResult | null;
    if (!result) return { task, params, result, audit: null, auditByClass: [] };
    const [{ classes }] = await run<{ classes: string[] }>(this.ds, datasetClasses(task.datasetId));
    const rows: { c: number; audited: number; agreed: number }[] = result.auditRoundId
      ? await run(this.ds, runSql.auditByClass(result.auditRoundId, task.id))
      : [];
    const byClass = new Map(rows.map((r) => [r.c, r]));
    const audited = rows.reduce((a, r) => a + r.audited, 0);
    const agreed = rows.reduce((a, r) => a + r.agreed, 0);
    const auditByClass = (classes as string[])
      .map((value, c) => ({
        value,
        classIndex: c,
        labelled: result.labelledByClass[c] ?? 0,
        ...stats(byClass.get(c)?.agreed ?? 0, byClass.get(c)?.audited ?? 0),
      }))
      .filter((x) => x.labelled > 0 || x.audited > 0);
    return { task, params, result, audit: stats(agreed, audited), auditByClass };
  }

  /**
   * Takes back a finished run's MODEL labels: those still current are superseded (kept as
   * history), and where the run had replaced an item's older MODEL label (of a run not revoked
   * itself), that label is current again, so each item is as it was before the run. Open audit
   * queries are cancelled (their budget is freed); answers already given stay, as HUMAN labels.
   * CONFLICT for a run that has not succeeded or was revoked already.
   */
  async revoke(key: ApiKey, runId: string): Promise<AutoLabelRunView> {
    const task = await this.load(key, runId, Permission.MANAGE_ROUNDS);
    const updated = await this.ds.transaction(async (m) => {
      const [locked] = await run(m, runSql.lockRun(task.id));
      const result = locked.result as AutoLabelResult | null;
      if (locked.status !== TaskStatus.SUCCEEDED || !result) {
        throw new ConflictError(
          `Auto-label run ${task.id} is ${locked.status}; only a SUCCEEDED run has labels to revoke.`,
        );
      }
      if (result.revokedAt) {
        throw new ConflictError(
          `Auto-label run ${task.id} was revoked already, at ${result.revokedAt}.`,
        );
      }
      // The same item locks, in the same order, as every label writer (writeCurrentLabels).
      await run(m, runSql.lockRunItems(task.id));
      const revokedIds = returnedRows<{ id: string }>(
        await run(m, runSql.supersedeRunLabels(task.id)),
      );
      const restoredRows = returnedRows(
        await run(m, runSql.restoreReplacedLabels(revokedIds.map((r) => r.id))),
      );
      const cancelled = result.auditRoundId
        ? await closeRound(m, this.events, { id: result.auditRoundId, datasetId: task.datasetId }, [
            RoundStatus.OPEN,
          ])
        : 0;
      const next: AutoLabelResult = {
        ...result,
        revokedAt: new Date().toISOString(),
        revokedBy: key.id,
        revokedCount: revokedIds.length,
        restoredCount: restoredRows.length,
        cancelledAudits: cancelled,
      };
      await run(m, runSql.setRunResult(task.id, next));
      return m.getRepository(Task).findOneByOrFail({ id: task.id });
    });
    return this.view(updated);
  }
}

function stats(agreed: number, audited: number): AgreementStats {
  const w = clopperPearsonInterval(agreed, audited);
  return { audited, agreed, rate: w.estimate, lower: w.lower, upper: w.upper };
}

/**
 * The model's labels on the validation items at the run's threshold(s) (null without validation
 * labels), with the exact 95% interval of their precision.
 */
function validationFacts(
  scored: ScoredValidation,
  thresholdOf: (classIndex: number) => number | null,
): ValidationFacts | null {
  const total = scored.confidences.length;
  if (total === 0) return null;
  let count = 0;
  let correct = 0;
  scored.confidences.forEach((confidence, i) => {
    const t = thresholdOf(scored.predicted[i]);
    if (t === null || confidence < t) return;
    count += 1;
    if (scored.correct[i]) correct += 1;
  });
  const interval = clopperPearsonInterval(correct, count);
  return {
    total,
    count,
    correct,
    precision: interval.estimate,
    coverage: count / total,
    lower: interval.lower,
    upper: interval.upper,
  };
}
