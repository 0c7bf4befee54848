import { ApiKeyRole } from '../../src/entities';
import { describeInBrowser } from '../helpers/browser';
import { DIGIT_CLASSES, f32base64, loadDigits } from '../helpers/digits';
import { openRound } from '../helpers/queues';
import { trainSoftmax } from '../helpers/training';
import { waitFor } from '../helpers/wait-for';

describeInBrowser('dashboard', (w) => {
  /** 300 digits: 40 labelled and 200 unlabelled POOL items, 60 labelled VALIDATION items. */
  async function digitsDataset(name: string): Promise<string> {
    const { features, labels } = loadDigits();
    const { createDataset } = await w().t.ok(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      {
        i: {
          name,
          classes: DIGIT_CLASSES,
          featureDim: 64,
          payloadField: 'pixels',
          payloadKind: 'PIXELS',
        },
      },
    );
    const items = features.slice(0, 300).map((f, i) => ({
      externalId: `d${i}`,
      featuresBase64: f32base64(f),
      payload: { pixels: f },
      split: i < 60 ? 'VALIDATION' : 'POOL',
      label: i < 100 ? labels[i] : null,
    }));
    await w().t.ok(
      'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
      { d: createDataset.id, items },
    );
    return createDataset.id;
  }

  it('shows queue depth and round progress change live, and a new point on the learning curve after training', async () => {
    const d = await digitsDataset('watched');
    const model = await trainSoftmax(w().t, d);
    await openRound(w().t, d, 10, { strategy: 'margin', modelIds: [model] });
    const admin = await w().signedIn(w().t.adminKey, `#/dashboard/${d}?refresh=1`);
    const page = admin.page;
    await page.getByTestId('queue-depth').filter({ hasText: /^10$/ }).waitFor();
    await page.getByTestId('round-progress').filter({ hasText: '0 of 10 answered' }).waitFor();
    await page.locator('[data-testid=learning-curve] tbody tr').first().waitFor();
    expect(await page.locator('[data-testid=learning-curve] tbody tr').count()).toBe(1);
    // A marker that a reload would lose: the updates below must arrive without one.
    await page.evaluate(() => ((globalThis as any).__stillHere = true));

    const ana = await w().signedIn(await w().createKey(ApiKeyRole.ANNOTATOR, [d]), `#/label/${d}`);
    await ana.page.getByText('Model suggests').waitFor();
    const accepted = new Map<string, string>();
    for (let i = 0; i < 3; i++) {
      const shown = await ana.page.locator('#item-title').getAttribute('data-external-id');
      // The suggestion: its class, the model's confidence and version; Enter accepts it.
      const suggestion = ana.page.locator('.suggestion');
      expect(await suggestion.textContent()).toMatch(
        /^Model suggests: \d \(confidence \d+\.\d%, model v1\) — Enter accepts$/,
      );
      accepted.set(shown!, (await suggestion.locator('.suggested-value').textContent())!);
      await ana.page.keyboard.press('Enter');
      await ana.page.waitForFunction(
        (prev) =>
          (globalThis as any).document
            .querySelector('#item-title')
            ?.getAttribute('data-external-id') !== prev,
        shown,
      );
    }
    const stored = await waitFor(
      () =>
        w().t.sql(
          `SELECT i.external_id AS id, d.classes[l.class_index + 1] AS value FROM label l
           JOIN item i ON i.id = l.item_id JOIN dataset d ON d.id = l.dataset_id
           WHERE l.dataset_id = $1 AND l.source = 'HUMAN' AND l.superseded_at IS NULL
             AND i.external_id = ANY($2::text[])`,
          [d, [...accepted.keys()]],
        ),
      { until: (rows) => rows.length === 3, what: '3 answers stored' },
    );
    expect(new Map(stored.map((r: any) => [r.id, r.value]))).toEqual(accepted);
    await page.getByTestId('queue-depth').filter({ hasText: /^7$/ }).waitFor();
    await page.getByTestId('round-progress').filter({ hasText: '3 of 10 answered' }).waitFor();
    await page.locator('[data-testid=annotators] tbody tr').first().waitFor();
    // Budget by mechanism: the table says what the API says.
    const byMechanism = async () =>
      (
        await w().t.ok(
          'query($d: ID!) { dataset(id: $d) { budget { byMechanism { mechanism spent held owed } } } }',
          { d },
        )
      ).dataset.budget.byMechanism.map((m: any) =>
        [m.mechanism, m.spent, m.held, m.owed].map(String),
      );
    const shownBudget = () =>
      page
        .locator('[data-panel=queue] table tbody tr')
        .evaluateAll((rows) =>
          rows.map((r: any) => [...r.children].map((c: any) => c.textContent.trim())),
        );
    const expected = await byMechanism();
    expect(expected.find((m: string[]) => m[1] === '3')).toBeDefined();
    await waitFor(shownBudget, {
      until: (rows) => JSON.stringify(rows) === JSON.stringify(expected),
      what: `the budget by mechanism to read ${JSON.stringify(expected)}`,
    });

    await trainSoftmax(w().t, d);
    await page.locator('[data-testid=learning-curve] tbody tr').nth(1).waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-testid=learning-curve] tbody th').allTextContents()).toEqual([
      'v1',
      'v2',
    ]);
    expect(await page.locator('[data-panel=curve] figure').getAttribute('data-points')).toBe('2');
    expect(await page.evaluate(() => (globalThis as any).__stillHere)).toBe(true);

    await w().screenshot(page, 'dashboard');
    expect(await w().axe(page)).toEqual([]);
    await w().screenshot(ana.page, 'label-digits');
    expect(await w().axe(ana.page)).toEqual([]);
    // Two training runs and a round: on a loaded machine this outlasts the default 60 s.
  }, 180_000);
  it("draws the latest simulation's curves, one per strategy, with their numbers", async () => {
    const { features, labels } = loadDigits();
    const { createDataset } = await w().t.ok(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      { i: { name: 'simulated', classes: DIGIT_CLASSES, featureDim: 64 } },
    );
    const d = createDataset.id;
    await w().t.ok(
      'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
      {
        d,
        items: features.slice(0, 300).map((f, i) => ({
          externalId: `s${i}`,
          featuresBase64: f32base64(f),
          split: i % 3 === 0 ? 'TEST' : 'POOL',
          groundTruth: labels[i],
        })),
      },
    );
    const { simulate } = await w().t.ok(
      'mutation($i: SimulateInput!) { simulate(input: $i) { id } }',
      {
        i: {
          datasetId: d,
          strategies: [{ strategy: 'random' }, { strategy: 'margin' }],
          seedSize: 20,
          batchSize: 20,
          budget: 60,
          repeats: 1,
          trainer: 'softmax',
          trainerOptions: { C: 10 },
          seed: 5,
        },
      },
    );
    const done = await waitFor(
      async () =>
        (
          await w().t.ok(
            'query($id: ID!) { simulation(id: $id) { status error curves { strategy points { labels meanAccuracy } } } }',
            { id: simulate.id },
          )
        ).simulation,
      {
        until: (s) => !['QUEUED', 'RUNNING'].includes(s.status),
        timeoutMs: 150_000,
        what: 'the simulation to finish',
      },
    );
    expect(done).toMatchObject({ status: 'SUCCEEDED', error: null });
    const { page } = await w().signedIn(w().t.adminKey, `#/dashboard/${d}?refresh=1`);
    const sims = page.locator('[data-panel=simulations]');
    await sims.locator('figure').waitFor();
    const table = sims.locator('table.data');
    expect(await table.locator('thead th').allTextContents()).toEqual([
      'Labels',
      ...done.curves.map((c: any) => c.strategy),
    ]);
    const xs = [
      ...new Set<number>(done.curves.flatMap((c: any) => c.points.map((p: any) => p.labels))),
    ].sort((a, b) => a - b);
    expect(
      await table
        .locator('tbody tr')
        .evaluateAll((rows) =>
          rows.map((r: any) => [...r.children].map((c: any) => c.textContent.trim())),
        ),
    ).toEqual(
      xs.map((x) => [
        String(x),
        ...done.curves.map((c: any) =>
          c.points.find((p: any) => p.labels === x).meanAccuracy.toFixed(3),
        ),
      ]),
    );
    // The chart itself is drawn (uPlot's canvas), each strategy in the legend.
    await sims.locator('canvas').first().waitFor();
    expect(await sims.locator('.u-legend .u-label').allTextContents()).toEqual(
      expect.arrayContaining(['random', 'margin']),
    );
    await w().screenshot(page, 'dashboard-simulation');
    expect(await w().axe(page)).toEqual([]);
  }, 240_000);
});
