import type { DataSource, EntityManager } from 'typeorm';
import { ApiKey, Dataset, PayloadKind } from '../entities';
import { BadUserInputError, ConflictError, InputProblem, NotFoundError } from '../errors';
import { authorize, Permission } from './permissions';
import { isUuid, pgCode, PG_UNIQUE_VIOLATION } from '../db/db-errors';
import { intProblem, lengthProblem } from './validate';
import { datasetListing, lockDataset } from '../db/sql/datasets.sql';
import { entityPage, type Page } from './pagination';
import { run } from '../db/sql/statement';

export interface CreateDatasetInput {
  name: string;
  description?: string | null;
  classes: string[];
  featureDim: number;
  labelBudget?: number | null;
  annotationsPerItem?: number | null;
  guidelines?: string | null;
  payloadField?: string | null;
  payloadKind?: PayloadKind | null;
}

export interface UpdateDatasetInput {
  name?: string | null;
  description?: string | null;
  /** Classes appended after the existing ones (existing classes never change order). */
  addClasses?: string[] | null;
  /** A new budget; explicit null removes the budget. */
  labelBudget?: number | null;
  annotationsPerItem?: number | null;
  /** New guidelines (Markdown); omit to keep them. */
  guidelines?: string | null;
  /** The payload field to show; explicit null shows the whole payload. */
  payloadField?: string | null;
  payloadKind?: PayloadKind | null;
}

/** Longest guidelines accepted (characters of Markdown). */
export const MAX_GUIDELINES_LENGTH = 100_000;

/** Largest feature vector accepted (1 MiB of float32 per item). */
export const MAX_FEATURE_DIM = 262_144;
export const MAX_CLASSES = 10_000;

function checkName(name: string, problems: InputProblem[]): string {
  const trimmed = name.trim();
  const problem = lengthProblem(trimmed);
  if (problem) problems.push({ field: 'name', message: problem });
  return trimmed;
}

function checkClasses(classes: string[], field: string, problems: InputProblem[]): void {
  const seen = new Set<string>();
  classes.forEach((c, index) => {
    if (!c.trim() || lengthProblem(c)) {
      problems.push({ field, index, message: 'a class name must be 1 to 200 characters' });
    } else if (seen.has(c)) {
      problems.push({ field, index, message: `class ${JSON.stringify(c)} is listed twice` });
    }
    seen.add(c);
  });
}

function checkBudget(budget: number | null | undefined, problems: InputProblem[]): void {
  if (budget !== null && budget !== undefined && budget < 0) {
    problems.push({
      field: 'labelBudget',
      message: `must be 0 or more (or null for no budget); got ${budget}`,
    });
  }
}

function checkAnnotations(k: number | null | undefined, problems: InputProblem[]): void {
  const problem = k === null || k === undefined ? undefined : intProblem(k, { min: 1, max: 100 });
  if (problem) problems.push({ field: 'annotationsPerItem', message: problem });
}

function checkDisplay(
  input: { guidelines?: string | null; payloadField?: string | null },
  problems: InputProblem[],
): void {
  if (input.guidelines && input.guidelines.length > MAX_GUIDELINES_LENGTH) {
    problems.push({
      field: 'guidelines',
      message: `must be at most ${MAX_GUIDELINES_LENGTH} characters; got ${input.guidelines.length}`,
    });
  }
  const field = input.payloadField;
  if (field !== undefined && field !== null && (!field.trim() || field.length > 200)) {
    problems.push({ field: 'payloadField', message: 'must be 1 to 200 characters, or null' });
  }
}

function invalid(problems: InputProblem[]): BadUserInputError {
  return new BadUserInputError(
    'Invalid dataset: ' +
      problems
        .map((p) => `${p.field}${p.index !== undefined ? `[${p.index}]` : ''} ${p.message}`)
        .join('; '),
    problems,
  );
}

/** Datasets: creation, settings, and the access checks every dataset-scoped operation starts with. */
export class DatasetService {
  constructor(private readonly ds: DataSource) {}

  /**
   * The dataset `id`, after checking `key` may act on it with `permission`. Scope is checked
   * before existence, so a scoped key learns nothing about datasets outside its scope.
   */
  async getAuthorized(
    key: ApiKey,
    id: string,
    permission: Permission,
    manager?: EntityManager,
  ): Promise<Dataset> {
    authorize(key, permission, id);
    const dataset = isUuid(id)
      ? await (manager ?? this.ds.manager).findOneBy(Dataset, { id })
      : null;
    if (!dataset) throw new NotFoundError('Dataset', id);
    return dataset;
  }

  /** A page of the datasets the key can see, by name. */
  list(key: ApiKey, first?: number | null, after?: string | null): Promise<Page<Dataset>> {
    authorize(key, Permission.READ_DATASET);
    return entityPage(this.ds, Dataset, {
      ...datasetListing(key.datasetIds ?? null),
      kind: 'dataset',
      first,
      after,
    });
  }

  async create(key: ApiKey, input: CreateDatasetInput): Promise<Dataset> {
    authorize(key, Permission.CREATE_DATASET);
    const problems: InputProblem[] = [];
    const name = checkName(input.name, problems);
    if (input.classes.length < 2 || input.classes.length > MAX_CLASSES) {
      problems.push({
        field: 'classes',
        message: `must list 2 to ${MAX_CLASSES} classes; got ${input.classes.length}`,
      });
    }
    checkClasses(input.classes, 'classes', problems);
    const featureDimProblem = intProblem(input.featureDim, { min: 1, max: MAX_FEATURE_DIM });
    if (featureDimProblem) problems.push({ field: 'featureDim', message: featureDimProblem });
    checkBudget(input.labelBudget, problems);
    checkAnnotations(input.annotationsPerItem, problems);
    checkDisplay(input, problems);
    if (problems.length > 0) throw invalid(problems);
    try {
      return await this.ds.getRepository(Dataset).save({
        name,
        description: input.description ?? '',
        classes: input.classes,
        featureDim: input.featureDim,
        labelBudget: input.labelBudget ?? null,
        annotationsPerItem: input.annotationsPerItem ?? 1,
        guidelines: input.guidelines ?? '',
        payloadField: input.payloadField ?? null,
        payloadKind: input.payloadKind ?? PayloadKind.AUTO,
      });
    } catch (e) {
      if (pgCode(e) === PG_UNIQUE_VIOLATION) {
        throw new ConflictError(`A dataset named ${JSON.stringify(name)} already exists.`);
      }
      throw e;
    }
  }

  async update(key: ApiKey, id: string, input: UpdateDatasetInput): Promise<Dataset> {
    return this.ds.transaction(async (m) => {
      authorize(key, Permission.WRITE_DATASET, id);
      // Lock before reading, so two concurrent updates (e.g. addClasses) cannot lose one.
      if (isUuid(id)) await run(m, lockDataset(id));
      const dataset = await this.getAuthorized(key, id, Permission.WRITE_DATASET, m);
      const problems: InputProblem[] = [];
      if (input.name !== undefined && input.name !== null)
        dataset.name = checkName(input.name, problems);
      if (input.description !== undefined && input.description !== null)
        dataset.description = input.description;
      if (input.addClasses) {
        checkClasses([...dataset.classes, ...input.addClasses], 'addClasses', problems);
        dataset.classes = [...dataset.classes, ...input.addClasses];
        if (dataset.classes.length > MAX_CLASSES) {
          problems.push({
            field: 'addClasses',
            message: `a dataset has at most ${MAX_CLASSES} classes`,
          });
        }
      }
      if (input.labelBudget !== undefined) {
        checkBudget(input.labelBudget, problems);
        dataset.labelBudget = input.labelBudget;
      }
      if (input.annotationsPerItem !== undefined && input.annotationsPerItem !== null) {
        checkAnnotations(input.annotationsPerItem, problems);
        dataset.annotationsPerItem = input.annotationsPerItem;
      }
      checkDisplay(input, problems);
      if (input.guidelines !== undefined && input.guidelines !== null)
        dataset.guidelines = input.guidelines;
      if (input.payloadField !== undefined) dataset.payloadField = input.payloadField;
      if (input.payloadKind !== undefined && input.payloadKind !== null)
        dataset.payloadKind = input.payloadKind;
      if (problems.length > 0) throw invalid(problems);
      try {
        return await m.getRepository(Dataset).save(dataset);
      } catch (e) {
        if (pgCode(e) === PG_UNIQUE_VIOLATION) {
          throw new ConflictError(
            `A dataset named ${JSON.stringify(dataset.name)} already exists.`,
          );
        }
        throw e;
      }
    });
  }
}
