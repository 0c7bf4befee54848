import { DIGITS_CSV } from '../helpers/digits';
import { describeInBrowser } from '../helpers/browser';
import { waitFor } from '../helpers/wait-for';

describeInBrowser('admin pages', (w) => {
  it('creates a dataset, imports the digits CSV, makes an annotator key, starts a round, and labels with the new key', async () => {
    const { page } = await w().signedIn(w().t.adminKey, '#/admin');
    await page.getByRole('heading', { name: 'Admin' }).waitFor();
    expect(await w().axe(page)).toEqual([]);

    const create = page.locator('[data-panel=create]');
    await create.getByLabel('Name').fill('digits-web');
    await create.getByLabel('Classes').fill('0,1,2,3,4,5,6,7,8,9');
    await create.getByLabel('Feature length').fill('64');
    await create.getByLabel('Guidelines (Markdown)').fill('Pick the **digit** shown.');
    await create.getByRole('button', { name: 'Create dataset' }).click();

    const imp = page.locator('[data-panel=import]');
    await imp.waitFor();
    await imp.getByLabel('CSV file').setInputFiles(DIGITS_CSV);
    await imp.getByLabel(/pixel image/).check();
    await imp.getByLabel(/VALIDATION/).fill('0.2');
    await imp.getByRole('button', { name: 'Import' }).click();
    await imp.getByText(/^Imported 1797 items/).waitFor({ timeout: 60_000 });
    expect(await imp.getByRole('progressbar').evaluate((p: any) => p.value === p.max)).toBe(true);

    const keys = page.locator('[data-panel=keys]');
    await keys.getByLabel('Name').fill('ana');
    await keys.getByLabel('Role').selectOption('ANNOTATOR');
    await keys.getByLabel('Limited to').selectOption({ label: 'digits-web' });
    await keys.getByRole('button', { name: 'Create key' }).click();
    const secret = (await keys.getByTestId('new-key').textContent())!.trim();
    expect(secret).toMatch(/^qk_/);

    const round = page.locator('[data-panel=round]');
    await round.getByLabel('Strategy').selectOption('random');
    // The parameter form is generated from the strategy's JSON Schema (random: an integer seed).
    const seed = round.locator('fieldset.params').getByLabel('seed');
    expect(await seed.getAttribute('type')).toBe('number');
    await seed.fill('42');
    await round.getByLabel('Size').fill('20');
    await round.getByRole('button', { name: 'Start round' }).click();
    await round.getByText(/Round random is/).waitFor();
    await w().screenshot(page, 'admin');
    expect(await w().axe(page)).toEqual([]);

    const [dataset] = await w().t.sql(
      `SELECT id, guidelines, payload_field AS "payloadField", payload_kind AS "payloadKind" FROM dataset WHERE name = 'digits-web'`,
    );
    expect(
      await w().t.sql(`SELECT strategy, size, params FROM round WHERE dataset_id = $1`, [
        dataset.id,
      ]),
    ).toEqual([{ strategy: 'random', size: 20, params: { seed: 42 } }]);
    expect(dataset).toMatchObject({
      guidelines: 'Pick the **digit** shown.',
      payloadField: 'pixels',
      payloadKind: 'PIXELS',
    });
    const counts = await w().t.sql(
      `SELECT split::text, count(*)::int AS n, count(ground_truth)::int AS truth FROM item WHERE dataset_id = $1 GROUP BY split ORDER BY split`,
      [dataset.id],
    );
    expect(counts.reduce((n: number, c: any) => n + c.n, 0)).toBe(1797);
    await waitFor(
      async () =>
        (await w().t.sql(`SELECT status FROM round WHERE dataset_id = $1`, [dataset.id]))[0]
          ?.status,
      { until: (s) => s === 'OPEN', what: 'the round to open', timeoutMs: 60_000 },
    );

    // The annotator, in a browser of their own, with the key just made.
    const ana = await w().signedIn(secret, `#/label/${dataset.id}`);
    await ana.page.locator('canvas.payload-pixels').waitFor();
    await ana.page.locator('.guidelines strong', { hasText: 'digit' }).waitFor();
    const pressed = new Map<string, string>();
    let prev: string | null = null;
    for (const digit of ['3', '7', '0', '9', '5']) {
      await ana.page.waitForFunction((p) => {
        const id = (globalThis as any).document
          .querySelector('#item-title')
          ?.getAttribute('data-external-id');
        return id && id !== p;
      }, prev);
      prev = await ana.page.locator('#item-title').getAttribute('data-external-id');
      pressed.set(prev!, digit);
      await ana.page.keyboard.press(digit);
    }
    const stored = await waitFor(
      () =>
        w().t.sql(
          `SELECT i.external_id AS id, l.class_index::text AS value, k.name FROM label l
           JOIN item i ON i.id = l.item_id JOIN api_key k ON k.id = l.api_key_id
           WHERE l.dataset_id = $1 AND l.source = 'HUMAN'`,
          [dataset.id],
        ),
      { until: (rows) => rows.length === 5, what: '5 labels' },
    );
    expect(new Map(stored.map((r: any) => [r.id, r.value]))).toEqual(pressed);
    expect(new Set(stored.map((r: any) => r.name))).toEqual(new Set(['ana']));
    await w().screenshot(ana.page, 'label-admin-flow');

    // Back on the admin page: train a model on the labels.
    const train = page.locator('[data-panel=train]');
    await train.getByLabel('Dataset').selectOption({ label: 'digits-web' });
    await train.getByRole('button', { name: 'Train a model' }).click();
    await train.getByText(/^Model v1 registered\.$/).waitFor({ timeout: 90_000 });
    expect(
      await w().t.sql(`SELECT version FROM model WHERE dataset_id = $1`, [dataset.id]),
    ).toEqual([{ version: 1 }]);
    // A long flow (1,797 items imported, a round, training): on a loaded machine it outlasts 60 s.
  }, 240_000);

  it('signs in by keyboard with a key kept in session storage only, and picks a dataset by name', async () => {
    const { createDataset } = await w().t.ok(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      { i: { name: 'by-name', classes: ['a', 'b'], featureDim: 2 } },
    );
    const context = await w().browser.newContext({ bypassCSP: true });
    try {
      const page = await context.newPage();
      await page.goto(w().base);
      await page.getByRole('heading', { name: 'Sign in to Quarry' }).waitFor();
      await w().screenshot(page, 'sign-in');
      expect(await w().axe(page)).toEqual([]);
      // The key field has the focus: a wrong key is refused and nothing is kept.
      await page.keyboard.type('qk_not-a-key');
      await page.keyboard.press('Enter');
      await page
        .getByRole('alert')
        .filter({ hasText: /^Sign-in failed/ })
        .waitFor();
      expect(await page.evaluate(() => (globalThis as any).sessionStorage.length)).toBe(0);
      await page.getByLabel('API key').fill('');
      await page.keyboard.type(w().t.adminKey);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Datasets' }).waitFor();
      const stored = await page.evaluate(() => {
        const g = globalThis as any;
        return {
          session: g.sessionStorage.getItem('quarry.apiKey'),
          local: g.localStorage.length,
          cookie: g.document.cookie,
        };
      });
      expect(stored).toEqual({ session: w().t.adminKey, local: 0, cookie: '' });
      expect(await context.cookies()).toEqual([]);
      await w().screenshot(page, 'datasets');
      expect(await w().axe(page)).toEqual([]);
      // Kept across a reload of the tab; a new tab of another session starts signed out.
      await page.reload();
      await page.getByRole('heading', { name: 'Datasets' }).waitFor();
      await page.getByRole('link', { name: 'Label by-name' }).focus();
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Label · by-name' }).waitFor();
      expect(page.url()).toBe(`${w().base}#/label/${createDataset.id}`);
      const other = await w().browser.newContext();
      try {
        const fresh = await other.newPage();
        await fresh.goto(w().base);
        await fresh.getByRole('heading', { name: 'Sign in to Quarry' }).waitFor();
      } finally {
        await other.close();
      }
    } finally {
      await context.close();
    }
  });
});
