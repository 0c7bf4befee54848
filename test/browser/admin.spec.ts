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
    await round.getByLabel('Size').fill('20');
    await round.getByRole('button', { name: 'Start round' }).click();
    await round.getByText(/Round random is/).waitFor();
    await w().screenshot(page, 'admin');
    expect(await w().axe(page)).toEqual([]);

    const [dataset] = await w().t.sql(
      `SELECT id, guidelines, payload_field AS "payloadField", payload_kind AS "payloadKind" FROM dataset`,
    );
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
  });
});
