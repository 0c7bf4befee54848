import { temperProbabilities } from '../../src/ml/calibration';
import {
  CANDIDATE_THRESHOLDS,
  clopperPearsonInterval,
  minimumCertifiableCount,
  TEST_STEP_GROWTH,
} from '../../src/ml/precision-certificate';
import { ApiKeyRole } from '../../src/entities';
import { DIGIT_CLASSES, f32base64, loadDigits } from '../helpers/digits';
import { testModel } from '../helpers/models';
import { CLAIM, SUBMIT, openRound } from '../helpers/queues';
import { codeOf, describeEachDb, type TestServer } from '../helpers/server';
import { runOnnx } from '../unit/trainers/helpers';
import { trainSoftmax } from '../helpers/training';
import { waitFor } from '../helpers/wait-for';

const RUN_FIELDS = `id status error threshold thresholdSource targetPrecision auditRate seed
  validation { total count correct precision coverage lower upper }
  certificate { target confidence perClass validationLabels drawnLabels threshold n errors bound
    classes { value classIndex threshold n errors bound delta } }
  classThresholds
  scoredCount labelledCount skippedCount auditCount auditRoundId
  auditRound { id mechanism strategy size status }
  audit { audited agreed rate lower upper }
  auditByClass { value labelled audited agreed rate lower upper }
  revokedAt revokedCount restoredCount`;
const AUTO = `mutation($i: AutoLabelInput!) { autoLabel(input: $i) { ${RUN_FIELDS} } }`;
const RUN = `query($id: ID!) { autoLabelRun(id: $id) { ${RUN_FIELDS} } }`;
const REVOKE = `mutation($id: ID!) { revokeAutoLabels(runId: $id) { ${RUN_FIELDS} } }`;

/** Splits of the digits: every 5th row TEST, every 5th (offset 1) VALIDATION, the rest POOL. */
function splitOf(i: number): 'TEST' | 'VALIDATION' | 'POOL' {
  return i % 5 === 0 ? 'TEST' : i % 5 === 1 ? 'VALIDATION' : 'POOL';
}

/**
 * The digits with VALIDATION items labelled (the first `validationLabels` of them), POOL items
 * carrying their ground truth, and the first `seedLabels` POOL items labelled.
 */
async function digitsDataset(
  t: TestServer,
  name: string,
  opts: { seedLabels: number; validationLabels?: number; rows?: number; labelBudget?: number },
): Promise<string> {
  const { createDataset } = await t.ok(
    'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
    {
      i: {
        name,
        classes: DIGIT_CLASSES,
        featureDim: 64,
        labelBudget: opts.labelBudget ?? null,
      },
    },
  );
  const digits = loadDigits();
  let pool = 0;
  let validation = 0;
  const items = digits.features.slice(0, opts.rows ?? digits.features.length).map((f, i) => {
    const split = splitOf(i);
    const labelled =
      (split === 'POOL' && pool++ < opts.seedLabels) ||
      (split === 'VALIDATION' && validation++ < (opts.validationLabels ?? Infinity));
    return {
      externalId: `d${i}`,
      featuresBase64: f32base64(f),
      split,
      groundTruth: digits.labels[i],
      label: labelled ? digits.labels[i] : null,
    };
  });
  await t.ok(
    'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
    { d: createDataset.id, items },
  );
  return createDataset.id;
}

/**
 * Certification redone by hand on validation items as scored here: two fixed sequences over
 * the fixed candidates (from the top, and from half of the items when that is above where the
 * top one starts), each at delta / 2, testing a candidate once it rests on 25% more items than
 * the last tested; a candidate is certified when P(X >= right | n, target) <= delta / 2 for X
 * binomial (exactly when the Clopper-Pearson lower bound reaches the target); the lowest
 * certified candidate of either sequence is chosen.
 */
function certifyByHand(
  val: Scored[],
  target: number,
  delta: number,
): { threshold: number; n: number; errors: number; delta: number } | null {
  const half = Math.ceil(val.length / 2);
  const starts = half > minimumCertifiableCount(target, delta / 2) ? [0, half] : [0];
  const d = delta / starts.length;
  let chosen: { threshold: number; n: number; errors: number; delta: number } | null = null;
  for (const start of starts) {
    let level = Math.max(start, minimumCertifiableCount(target, d));
    for (const threshold of CANDIDATE_THRESHOLDS) {
      const above = val.filter((s) => s.confidence >= threshold);
      const n = above.length;
      if (n < level) continue;
      while (level <= n) level = Math.ceil(level * TEST_STEP_GROWTH);
      const errors = above.filter((s) => s.predicted !== s.truth).length;
      if (binomialUpperTail(n - errors, n, target) > d) break;
      if (!chosen || threshold < chosen.threshold) chosen = { threshold, n, errors, delta: d };
    }
  }
  return chosen;
}

/** P(X >= k) for X ~ Binomial(n, p), summed term by term in log space. */
function binomialUpperTail(k: number, n: number, p: number): number {
  let logC = 0;
  let tail = 0;
  for (let j = 0; j <= n; j++) {
    if (j > 0) logC += Math.log((n - j + 1) / j);
    if (j >= k) tail += Math.exp(logC + j * Math.log(p) + (n - j) * Math.log(1 - p));
  }
  return tail;
}

async function settle(t: TestServer, id: string): Promise<any> {
  return waitFor(async () => (await t.ok(RUN, { id })).autoLabelRun, {
    until: (autoLabelRun) => !['QUEUED', 'RUNNING'].includes(autoLabelRun.status),
    timeoutMs: 90_000,
    what: `auto-label run ${id} to finish`,
  });
}

interface Scored {
  id: string;
  split: string;
  truth: number;
  predicted: number;
  confidence: number;
}

/**
 * Every item of the dataset scored by the model in onnxruntime here (not by the server), with
 * the model's stored calibration temperature applied.
 */
async function scoreAll(t: TestServer, d: string, modelId: string): Promise<Scored[]> {
  const items: { id: string; split: string; features: Buffer; truth: number }[] = await t.sql(
    `SELECT id::text AS id, split, features, ground_truth AS truth FROM item
     WHERE dataset_id = $1 ORDER BY id`,
    [d],
  );
  const [model] = await t.sql(
    'SELECT onnx, output_name AS "outputName", output_kind AS "outputKind", temperature FROM model WHERE id = $1',
    [modelId],
  );
  const flat = new Float32Array(items.length * 64);
  items.forEach((it, r) =>
    new Uint8Array(flat.buffer, r * 256, 256).set(new Uint8Array(it.features)),
  );
  const out = await runOnnx(new Uint8Array(model.onnx), flat, items.length, 64);
  const probs = Float32Array.from(out.outputs[model.outputName].data);
  return items.map((it, r) => {
    let row = Array.from(probs.subarray(r * 10, r * 10 + 10));
    if (model.outputKind === 'LOGITS') {
      const max = Math.max(...row);
      const e = row.map((v) => Math.exp(v - max));
      const s = e.reduce((a, b) => a + b, 0);
      row = e.map((v) => v / s);
    }
    // The server's calibration, computed as the inference workers do (float32, in place).
    const tempered = Float32Array.from(row);
    temperProbabilities(tempered, 10, model.temperature);
    row = Array.from(tempered);
    let best = 0;
    for (let c = 1; c < 10; c++) if (row[c] > row[best]) best = c;
    return {
      id: it.id,
      split: it.split,
      truth: it.truth,
      predicted: best,
      confidence: Math.fround(row[best]),
    };
  });
}

/** Each item's current label ids, by source: the whole labelled state of the dataset. */
async function labelState(t: TestServer, d: string): Promise<string[]> {
  const rows: { item: string; source: string; id: string }[] = await t.sql(
    `SELECT item_id::text AS item, source, id::text AS id FROM label
     WHERE dataset_id = $1 AND superseded_at IS NULL ORDER BY item_id, source`,
    [d],
  );
  return rows.map((r) => `${r.item}:${r.source}:${r.id}`);
}

async function counts(t: TestServer) {
  const [row] = await t.sql(
    `SELECT (SELECT count(*) FROM task WHERE kind = 'AUTO_LABEL')::int AS tasks,
            (SELECT count(*) FROM label WHERE source = 'MODEL')::int AS labels,
            (SELECT count(*) FROM round)::int AS rounds`,
  );
  return row;
}

describeEachDb('auto-labelling with audit', (t) => {
  let d: string;
  let modelId: string;
  let scored: Scored[];
  let runA: any;
  /** Items that had no label when the first run started. */
  let unlabelledAtStart: Set<string>;

  beforeAll(async () => {
    d = await digitsDataset(t(), 'digits-auto', { seedLabels: 100, labelBudget: 1000 });
    modelId = await trainSoftmax(t(), d);
    scored = await scoreAll(t(), d, modelId);
    const labelled: { id: string }[] = await t().sql(
      'SELECT DISTINCT item_id::text AS id FROM label WHERE dataset_id = $1',
      [d],
    );
    const has = new Set(labelled.map((r) => r.id));
    unlabelledAtStart = new Set(scored.filter((s) => !has.has(s.id)).map((s) => s.id));
  }, 180_000);

  it('labels every unlabelled pool item at or above a fixed threshold and audits the asked share', async () => {
    const { autoLabel } = await t().ok(AUTO, {
      i: { datasetId: d, modelId, threshold: 0.9, auditRate: 0.1, seed: 11 },
    });
    expect(autoLabel).toMatchObject({
      status: 'QUEUED',
      threshold: 0.9,
      thresholdSource: 'FIXED',
      auditRate: 0.1,
      seed: 11,
    });
    // On the validation items, measured at the threshold, as computed here.
    const val = scored.filter((s) => s.split === 'VALIDATION');
    const above = val.filter((s) => s.confidence >= 0.9);
    expect(autoLabel.validation).toMatchObject({
      total: 360,
      count: above.length,
      correct: above.filter((s) => s.predicted === s.truth).length,
    });
    runA = await settle(t(), autoLabel.id);
    expect(runA).toMatchObject({ status: 'SUCCEEDED', error: null, skippedCount: 0 });

    const pool = scored.filter((s) => s.split === 'POOL' && unlabelledAtStart.has(s.id));
    expect(runA.scoredCount).toBe(pool.length);
    const labels: { item: string; c: number; conf: number; model: string }[] = await t().sql(
      `SELECT item_id::text AS item, class_index AS c, confidence AS conf, model_id AS model
       FROM label WHERE run_id = $1 AND source = 'MODEL' AND superseded_at IS NULL`,
      [runA.id],
    );
    const byItem = new Map(labels.map((l) => [l.item, l]));
    const byId = new Map(scored.map((s) => [s.id, s]));
    // Exactly the items at or above the threshold (leaving out float noise at the boundary).
    for (const s of pool) {
      if (Math.abs(s.confidence - 0.9) < 1e-5) continue;
      expect([s.id, byItem.has(s.id)]).toEqual([s.id, s.confidence >= 0.9]);
    }
    for (const l of labels) {
      const s = byId.get(l.item)!;
      expect(s.split).toBe('POOL');
      expect(unlabelledAtStart.has(l.item)).toBe(true);
      expect(l.model).toBe(modelId);
      expect(l.c).toBe(s.predicted);
      expect(l.conf).toBeCloseTo(s.confidence, 5);
    }
    expect(runA.labelledCount).toBe(labels.length);
    expect(labels.length).toBeGreaterThan(50);
    const perClass = runA.auditByClass.reduce((a: number, c: any) => a + c.labelled, 0);
    expect(perClass).toBe(labels.length);

    // round(0.1 x labels) audit queries, on labelled items, in an AUDIT round.
    const k = Math.round(0.1 * labels.length);
    expect(runA.auditCount).toBe(k);
    expect(runA.auditRound).toMatchObject({ mechanism: 'AUDIT', strategy: 'audit', size: k });
    const queries: { item: string; status: string }[] = await t().sql(
      'SELECT item_id::text AS item, status FROM label_query WHERE round_id = $1',
      [runA.auditRound.id],
    );
    expect(queries).toHaveLength(k);
    for (const q of queries) {
      expect(byItem.has(q.item)).toBe(true);
      expect(q.status).toBe('OPEN');
    }
    const { dataset } = await t().ok(
      'query($d: ID!) { dataset(id: $d) { budget { byMechanism { mechanism spent owed } } } }',
      { d },
    );
    expect(dataset.budget.byMechanism).toEqual([{ mechanism: 'AUDIT', spent: 0, owed: k }]);
    expect(runA.audit).toEqual({ audited: 0, agreed: 0, rate: null, lower: 0, upper: 1 });
  });

  it('reports the audited agreement with its exact (Clopper-Pearson) interval, per class too, and human answers win', async () => {
    const k = runA.auditCount;
    const truthOf = new Map(scored.map((s) => [s.id, s]));
    const annotator = await t().createKey(ApiKeyRole.ANNOTATOR, [d]);
    let agreed = 0;
    const wrong: string[] = [];
    const audited: string[] = [];
    const perClass = new Map<number, { audited: number; agreed: number }>();
    let answered = 0;
    while (answered < k) {
      const { claimQueries } = await t().ok(
        CLAIM,
        { d, n: Math.min(100, k - answered) },
        annotator,
      );
      expect(claimQueries.length).toBeGreaterThan(0);
      for (const c of claimQueries) {
        expect(c.query.roundId).toBe(runA.auditRound.id);
        const s = truthOf.get(c.query.itemId)!;
        await t().ok(SUBMIT, { q: c.query.id, v: DIGIT_CLASSES[s.truth], t: c.token }, annotator);
        const pc = perClass.get(s.predicted) ?? { audited: 0, agreed: 0 };
        pc.audited += 1;
        if (s.truth === s.predicted) {
          agreed += 1;
          pc.agreed += 1;
        } else wrong.push(s.id);
        audited.push(s.id);
        perClass.set(s.predicted, pc);
        answered += 1;
      }
    }
    const { autoLabelRun } = await t().ok(RUN, { id: runA.id });
    const w = clopperPearsonInterval(agreed, k);
    expect(autoLabelRun.audit.audited).toBe(k);
    expect(autoLabelRun.audit.agreed).toBe(agreed);
    expect(autoLabelRun.audit.rate).toBeCloseTo(agreed / k, 10);
    expect(autoLabelRun.audit.lower).toBeCloseTo(w.lower, 10);
    expect(autoLabelRun.audit.upper).toBeCloseTo(w.upper, 10);
    for (const c of autoLabelRun.auditByClass) {
      const mine = perClass.get(DIGIT_CLASSES.indexOf(c.value)) ?? { audited: 0, agreed: 0 };
      const wc = clopperPearsonInterval(mine.agreed, mine.audited);
      expect([c.value, c.audited, c.agreed]).toEqual([c.value, mine.audited, mine.agreed]);
      expect(c.lower).toBeCloseTo(wc.lower, 10);
      expect(c.upper).toBeCloseTo(wc.upper, 10);
    }
    // An audited item keeps the run's MODEL label in its history, but its label is the person's.
    const id = wrong[0] ?? audited[0];
    const { item } = await t().ok(
      'query($id: ID!) { item(id: $id) { label { source value } labels { nodes { source } } } }',
      { id },
    );
    expect(item.label).toEqual({ source: 'HUMAN', value: DIGIT_CLASSES[truthOf.get(id)!.truth] });
    expect(item.labels.nodes.map((l: any) => l.source).sort()).toEqual(['HUMAN', 'MODEL']);
  });

  it('certifies the threshold as the exact binomial test allows, and revoking the run restores every label', async () => {
    const before = await labelState(t(), d);
    const target = 0.9;
    const delta = 0.05;
    const { autoLabel } = await t().ok(AUTO, {
      i: { datasetId: d, modelId, targetPrecision: target, auditRate: 0.2, seed: 5 },
    });
    expect(autoLabel.thresholdSource).toBe('CERTIFIED');
    expect(autoLabel.targetPrecision).toBe(target);
    const val = scored.filter((s) => s.split === 'VALIDATION');
    const chosen = certifyByHand(val, target, delta);
    expect(chosen).not.toBeNull();
    expect(autoLabel.threshold).toBe(chosen!.threshold);
    expect(autoLabel.certificate).toMatchObject({
      target,
      confidence: 0.95,
      perClass: false,
      validationLabels: 360,
      drawnLabels: 0,
      threshold: chosen!.threshold,
      n: chosen!.n,
      errors: chosen!.errors,
    });
    expect(autoLabel.certificate.bound).toBeGreaterThanOrEqual(target);
    expect(binomialUpperTail(chosen!.n - chosen!.errors, chosen!.n, target)).toBeLessThanOrEqual(
      chosen!.delta,
    );
    expect(autoLabel.validation).toMatchObject({
      count: chosen!.n,
      correct: chosen!.n - chosen!.errors,
    });
    const runB = await settle(t(), autoLabel.id);
    expect(runB.status).toBe('SUCCEEDED');
    expect(runB.auditCount).toBe(Math.round(0.2 * runB.labelledCount));
    // Run B replaced some of run A's MODEL labels (items A labelled and nobody audited).
    const [{ replaced }] = await t().sql(
      `SELECT count(*)::int AS replaced FROM label a JOIN label b ON b.item_id = a.item_id
       WHERE a.run_id = $1 AND b.run_id = $2 AND a.superseded_at IS NOT NULL`,
      [runA.id, runB.id],
    );
    expect(replaced).toBeGreaterThan(0);
    // Audited-by-people items (HUMAN labels) were left alone.
    const [{ onHuman }] = await t().sql(
      `SELECT count(*)::int AS "onHuman" FROM label b JOIN label h ON h.item_id = b.item_id
       WHERE b.run_id = $1 AND h.source IN ('HUMAN', 'IMPORT')`,
      [runB.id],
    );
    expect(onHuman).toBe(0);
    expect(await labelState(t(), d)).not.toEqual(before);

    const { revokeAutoLabels } = await t().ok(REVOKE, { id: runB.id });
    expect(revokeAutoLabels.revokedAt).not.toBeNull();
    expect(revokeAutoLabels.revokedCount).toBe(runB.labelledCount);
    expect(revokeAutoLabels.restoredCount).toBe(replaced);
    expect(revokeAutoLabels.auditRound.status).toBe('CANCELLED');
    // Every item is labelled exactly as before the run, down to the label rows.
    expect(await labelState(t(), d)).toEqual(before);
    // History kept: the run's labels are still there, superseded.
    const [{ kept }] = await t().sql(
      'SELECT count(*)::int AS kept FROM label WHERE run_id = $1 AND superseded_at IS NOT NULL',
      [runB.id],
    );
    expect(kept).toBe(runB.labelledCount);
    const statuses: { status: string }[] = await t().sql(
      'SELECT DISTINCT status FROM label_query WHERE round_id = $1',
      [runB.auditRound.id],
    );
    expect(statuses).toEqual([{ status: 'CANCELLED' }]);
    const { dataset } = await t().ok(
      'query($d: ID!) { dataset(id: $d) { budget { byMechanism { mechanism owed } } } }',
      { d },
    );
    expect(dataset.budget.byMechanism).toEqual([{ mechanism: 'AUDIT', owed: 0 }]);

    const again = await t().gql(REVOKE, { id: runB.id });
    expect(codeOf(again)).toBe('CONFLICT');
    expect(await labelState(t(), d)).toEqual(before);
    const { autoLabelRuns } = await t().ok(
      'query($d: ID!) { autoLabelRuns(datasetId: $d) { nodes { id revokedAt } } }',
      { d },
    );
    expect(autoLabelRuns.nodes.map((r: any) => r.id)).toEqual([runB.id, runA.id]);
  });

  it('refuses bad inputs with their error codes and creates nothing', async () => {
    const other = await digitsDataset(t(), 'digits-other', { seedLabels: 0, rows: 20 });
    const { registerModel } = await t().ok(
      'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "upload", onnxBase64: $b) { id } }',
      { d: other, b: testModel().toString('base64') },
    );
    const { registerModel: uploaded } = await t().ok(
      'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "upload", onnxBase64: $b) { id } }',
      { d, b: testModel().toString('base64') },
    );
    const before = await counts(t());
    const state = await labelState(t(), d);
    const cases: [Record<string, unknown>, string][] = [
      [{ threshold: 0.9, targetPrecision: 0.9 }, 'BAD_USER_INPUT'],
      [{}, 'BAD_USER_INPUT'],
      [{ threshold: 0 }, 'BAD_USER_INPUT'],
      [{ threshold: 1.2 }, 'BAD_USER_INPUT'],
      [{ targetPrecision: 1.5 }, 'BAD_USER_INPUT'],
      [{ threshold: 0.9, auditRate: 1.1 }, 'BAD_USER_INPUT'],
      [{ threshold: 0.9, auditRate: -0.1 }, 'BAD_USER_INPUT'],
      [{ threshold: 0.9, seed: -1 }, 'BAD_USER_INPUT'],
      [{ threshold: 0.9, modelId: registerModel.id }, 'BAD_USER_INPUT'],
      [{ threshold: 0.9, modelId: 'nope' }, 'BAD_USER_INPUT'],
      [{ threshold: 0.9, datasetId: '00000000-0000-4000-8000-000000000000' }, 'NOT_FOUND'],
      // A model with random weights is right about one time in ten: no threshold reaches 0.99.
      [{ targetPrecision: 0.99, modelId: uploaded.id }, 'BAD_USER_INPUT'],
    ];
    for (const [over, code] of cases) {
      const i = { datasetId: d, modelId, auditRate: 0.1, ...over };
      const res = await t().gql(AUTO, { i });
      expect([JSON.stringify(over), codeOf(res)]).toEqual([JSON.stringify(over), code]);
    }
    const annotator = await t().createKey(ApiKeyRole.ANNOTATOR, [d]);
    const forbidden = await t().gql(
      AUTO,
      { i: { datasetId: d, modelId, threshold: 0.9, auditRate: 0 } },
      annotator,
    );
    expect(codeOf(forbidden)).toBe('FORBIDDEN');
    expect(codeOf(await t().gql(REVOKE, { id: '00000000-0000-4000-8000-000000000000' }))).toBe(
      'NOT_FOUND',
    );
    expect(await counts(t())).toEqual(before);
    expect(await labelState(t(), d)).toEqual(state);
  });

  it('refuses a target it cannot certify, saying about how many more validation labels it needs', async () => {
    const before = await counts(t());
    const res = await t().gql(AUTO, {
      i: { datasetId: d, modelId, targetPrecision: 0.95, confidence: 0.99, auditRate: 0 },
    });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    const needed = res.errors![0].extensions!.validationLabelsNeeded as number;
    expect(Number.isInteger(needed) && needed > 0).toBe(true);
    expect(res.errors![0].message).toContain(`About ${needed} more validation labels`);
    expect(res.errors![0].message).toContain('Nothing was labelled');
    expect(await counts(t())).toEqual(before);
  });

  it('certifies one threshold per class with the confidence split over the classes', async () => {
    const { autoLabel } = await t().ok(AUTO, {
      i: {
        datasetId: d,
        modelId,
        targetPrecision: 0.75,
        perClassThresholds: true,
        auditRate: 0,
        seed: 2,
      },
    });
    const cert = autoLabel.certificate;
    expect(cert.perClass).toBe(true);
    expect(cert.classes).toHaveLength(10);
    const val = scored.filter((s) => s.split === 'VALIDATION');
    for (const c of cert.classes) {
      // 0.05 / 10 classes, halved when the class has two sequences.
      expect([0.005, 0.0025].some((x) => Math.abs(c.delta - x) < 1e-12)).toBe(true);
      if (c.threshold === null) continue;
      const mine = val.filter((s) => s.predicted === c.classIndex && s.confidence >= c.threshold);
      expect([c.value, c.n]).toEqual([c.value, mine.length]);
      expect(binomialUpperTail(c.n - c.errors, c.n, 0.75)).toBeLessThanOrEqual(c.delta);
    }
    expect(autoLabel.classThresholds).toEqual(cert.classes.map((c: any) => c.threshold));
    const run = await settle(t(), autoLabel.id);
    expect(run.status).toBe('SUCCEEDED');
    const labels: { c: number; conf: number }[] = await t().sql(
      `SELECT class_index AS c, confidence AS conf FROM label WHERE run_id = $1`,
      [run.id],
    );
    for (const l of labels) {
      const th = autoLabel.classThresholds[l.c];
      expect(th).not.toBeNull();
      expect(l.conf).toBeGreaterThanOrEqual(th - 1e-6);
    }
    await t().ok(REVOKE, { id: run.id });
  });

  it('refuses a target precision with too few validation labels, naming the counts', async () => {
    const small = await digitsDataset(t(), 'digits-small', {
      seedLabels: 0,
      validationLabels: 12,
      rows: 300,
    });
    const { registerModel } = await t().ok(
      'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "upload", onnxBase64: $b) { id } }',
      { d: small, b: testModel().toString('base64') },
    );
    const before = await counts(t());
    const res = await t().gql(AUTO, {
      i: { datasetId: small, modelId: registerModel.id, targetPrecision: 0.9, auditRate: 0 },
    });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    // 29 error-free items are the fewest that certify 0.9 at confidence 0.95 (0.9^29 < 0.05).
    expect(res.errors![0].message).toMatch(
      /No threshold can be certified.*0\.9 with confidence 0\.95: no candidate threshold has the 29 validation items/,
    );
    expect(await counts(t())).toEqual(before);
  });

  it('fails a run whose audits do not fit the budget, writing nothing, and refuses audits up front once the budget is spent', async () => {
    const tight = await digitsDataset(t(), 'digits-budget', {
      seedLabels: 0,
      rows: 200,
      labelBudget: 2,
    });
    const { registerModel } = await t().ok(
      'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "upload", onnxBase64: $b) { id } }',
      { d: tight, b: testModel().toString('base64') },
    );
    const m = registerModel.id;
    const before = await counts(t());
    // Every pool item is labelled at threshold 0.01: half of them are 60 audits, over budget.
    const { autoLabel } = await t().ok(AUTO, {
      i: { datasetId: tight, modelId: m, threshold: 0.01, auditRate: 0.5 },
    });
    const failed = await settle(t(), autoLabel.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toMatch(/^BUDGET_EXHAUSTED: auditing 60 of the run's 120 auto-labels/);
    expect(failed.labelledCount).toBeNull();
    const after = await counts(t());
    expect([after.labels, after.rounds]).toEqual([before.labels, before.rounds]);
    expect(codeOf(await t().gql(REVOKE, { id: failed.id }))).toBe('CONFLICT');

    // The budget spent (held by an open round): audits are refused at once, nothing created.
    await openRound(t(), tight, 2);
    const tasks = (await counts(t())).tasks;
    const refused = await t().gql(AUTO, {
      i: { datasetId: tight, modelId: m, threshold: 0.01, auditRate: 0.1 },
    });
    expect(codeOf(refused)).toBe('BUDGET_EXHAUSTED');
    expect((await counts(t())).tasks).toBe(tasks);
    // Without audits it runs: 118 items (two are queued), no audit round.
    const { autoLabel: free } = await t().ok(AUTO, {
      i: { datasetId: tight, modelId: m, threshold: 0.01, auditRate: 0 },
    });
    const done = await settle(t(), free.id);
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      labelledCount: 118,
      auditCount: 0,
      auditRound: null,
    });
    expect(done.audit).toEqual({ audited: 0, agreed: 0, rate: null, lower: 0, upper: 1 });
  });
});
