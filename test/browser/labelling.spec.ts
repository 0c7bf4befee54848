import type { Page } from 'playwright-core';
import { ApiKeyRole } from '../../src/entities';
import { describeInBrowser } from '../helpers/browser';
import { CLAIM, CLASSES, SUBMIT, openRound, queueDataset } from '../helpers/queues';
import { waitFor } from '../helpers/wait-for';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The external id of the item on screen, once it is not `previous`. */
async function shownItem(page: Page, previous?: string | null): Promise<string> {
  const title = page.locator('#item-title[data-external-id]');
  await page.waitForFunction(
    (prev) => {
      const el = (globalThis as any).document.querySelector('#item-title[data-external-id]');
      return el !== null && el.getAttribute('data-external-id') !== prev;
    },
    previous ?? null,
    { timeout: 15_000 },
  );
  return (await title.getAttribute('data-external-id'))!;
}

describeInBrowser('labelling page', (w) => {
  /** Current labels by external id. */
  const labelsByExternalId = async (
    d: string,
  ): Promise<Map<string, { value: string; annotatorId: string }>> => {
    const rows = await w().t.sql(
      `SELECT i.external_id AS "externalId", d.classes[l.class_index + 1] AS value, l.annotator_id AS "annotatorId"
       FROM label l JOIN item i ON i.id = l.item_id JOIN dataset d ON d.id = l.dataset_id
       WHERE l.dataset_id = $1 AND l.superseded_at IS NULL AND l.source = 'HUMAN'`,
      [d],
    );
    return new Map(rows.map((r: any) => [r.externalId, r]));
  };

  it('lets an annotator label 20 items with the keyboard, storing what was pressed', async () => {
    const d = await queueDataset(w().t, 'keyboard', { items: 40 });
    await openRound(w().t, d, 30);
    const key = await w().createKey(ApiKeyRole.ANNOTATOR, [d]);
    const { page } = await w().signedIn(key, `#/label/${d}`);
    const pressed = new Map<string, string>();
    let shown: string | null = null;
    for (let i = 0; i < 20; i++) {
      shown = await shownItem(page, shown);
      expect(pressed.has(shown)).toBe(false);
      // The payload { text } is shown as its text, not as the record around it.
      expect(await page.locator('.item .payload-text').textContent()).toBe(
        `item ${shown.replace('keyboard-', '')}`,
      );
      const n = (i * 7) % 3;
      pressed.set(shown, CLASSES[n]);
      await page.keyboard.press(String(n + 1));
    }
    await page.getByTestId('answered').filter({ hasText: '20' }).waitFor();
    const stored = await waitFor(() => labelsByExternalId(d), {
      until: (m) => m.size === 20,
      what: '20 labels stored',
    });
    expect(new Map([...stored].map(([id, l]) => [id, l.value]))).toEqual(pressed);
    await w().screenshot(page, 'label');
    expect(await w().axe(page)).toEqual([]);
  });

  it('never shows two annotators in two browser contexts the same item', async () => {
    const d = await queueDataset(w().t, 'two-people', { items: 40 });
    await openRound(w().t, d, 30);
    const a = await w().signedIn(await w().createKey(ApiKeyRole.ANNOTATOR, [d]), `#/label/${d}`);
    const b = await w().signedIn(await w().createKey(ApiKeyRole.ANNOTATOR, [d]), `#/label/${d}`);
    const seen = { a: [] as string[], b: [] as string[] };
    let lastA: string | null = null;
    let lastB: string | null = null;
    for (let i = 0; i < 8; i++) {
      lastA = await shownItem(a.page, lastA);
      lastB = await shownItem(b.page, lastB);
      seen.a.push(lastA);
      seen.b.push(lastB);
      await Promise.all([a.page.keyboard.press('1'), b.page.keyboard.press('2')]);
    }
    expect(seen.a.filter((x) => seen.b.includes(x))).toEqual([]);
    const stored = await waitFor(() => labelsByExternalId(d), {
      until: (m) => m.size === 16,
      what: '16 labels',
    });
    for (const id of seen.a) expect(stored.get(id)?.value).toBe('cat');
    for (const id of seen.b) expect(stored.get(id)?.value).toBe('dog');
  });

  it('keeps the lease of the item on screen alive', async () => {
    const d = await queueDataset(w().t, 'renewed', { items: 10 });
    await openRound(w().t, d, 6);
    const { page } = await w().signedIn(
      await w().createKey(ApiKeyRole.ANNOTATOR, [d]),
      `#/label/${d}?lease=2`,
    );
    const x = await shownItem(page);
    await sleep(4500);
    // Another annotator takes everything free: not the item on screen, nor the one claimed ahead.
    const other = await w().createKey(ApiKeyRole.ANNOTATOR, [d]);
    const { claimQueries } = await w().t.ok(CLAIM, { d, n: 100, l: 300 }, other);
    expect(claimQueries).toHaveLength(4);
    await page.keyboard.press('3');
    const stored = await waitFor(() => labelsByExternalId(d), {
      until: (m) => m.has(x),
      what: `a label of ${x}`,
    });
    expect(stored.get(x)?.value).toBe('bird');
  });

  it('explains a lease lost while the item was open, records nothing for it, and moves on', async () => {
    const d = await queueDataset(w().t, 'lapsed', { items: 20 });
    await openRound(w().t, d, 10);
    const { context, page } = await w().signedIn(
      await w().createKey(ApiKeyRole.ANNOTATOR, [d]),
      `#/label/${d}?lease=3`,
    );
    const x = await shownItem(page);
    // The laptop goes to sleep (no renewals); meanwhile the lease ends and someone else claims it.
    await context.setOffline(true);
    await sleep(4000);
    const other = await w().createKey(ApiKeyRole.ANNOTATOR, [d]);
    const { claimQueries } = await w().t.ok(CLAIM, { d, n: 2, l: 300 }, other);
    const taken = await w().t.sql(
      `SELECT i.external_id AS id FROM label_query q JOIN item i ON i.id = q.item_id WHERE q.id = ANY($1::bigint[])`,
      [claimQueries.map((c: any) => c.query.id)],
    );
    expect(taken.map((r: any) => r.id)).toContain(x);
    await context.setOffline(false);
    await page.keyboard.press('1');
    await page.locator('.notice.error', { hasText: 'someone else took it' }).first().waitFor();
    const next = await shownItem(page, x);
    expect(next).not.toBe(x);
    await page.keyboard.press('2');
    const stored = await waitFor(() => labelsByExternalId(d), {
      until: (m) => m.has(next),
      what: `a label of ${next}`,
    });
    expect(stored.has(x)).toBe(false);
    expect(stored.get(next)?.value).toBe('dog');
  });

  it('skips with a reason and releases with Esc, returning the items to the queue', async () => {
    const d = await queueDataset(w().t, 'skip-release', { items: 12 });
    await openRound(w().t, d, 8);
    const key = await w().createKey(ApiKeyRole.ANNOTATOR, [d]);
    const { page } = await w().signedIn(key, `#/label/${d}`);
    const x = await shownItem(page);
    await page.keyboard.press('s');
    await page.getByLabel(/Why skip/).fill('blurry');
    await page.keyboard.press('Enter');
    const y = await shownItem(page, x);
    const held = async (externalId: string) =>
      (
        await w().t.sql(
          `SELECT q.status, count(*) FILTER (WHERE s.lease_expires_at > now() AND s.answered_at IS NULL)::int AS held,
                  (SELECT string_agg(reason, ',') FROM query_skip k WHERE k.query_id = q.id) AS reasons
           FROM label_query q JOIN item i ON i.id = q.item_id JOIN query_slot s ON s.query_id = q.id
           WHERE i.external_id = $1 GROUP BY q.id, q.status`,
          [externalId],
        )
      )[0];
    await waitFor(() => held(x), { until: (r) => r.reasons === 'blurry', what: 'the skip stored' });
    expect(await held(x)).toEqual({ status: 'OPEN', held: 0, reasons: 'blurry' });

    await page.keyboard.press('Escape');
    await page.getByRole('heading', { name: 'Paused' }).waitFor();
    const released = await waitFor(() => held(y), {
      until: (r) => r.held === 0,
      what: `${y} released`,
    });
    expect(released).toMatchObject({ status: 'OPEN', reasons: null });
    // Nothing of this annotator is held any more: another one can claim every open query.
    const other = await w().createKey(ApiKeyRole.ANNOTATOR, [d]);
    const { claimQueries } = await w().t.ok(CLAIM, { d, n: 100, l: 60 }, other);
    expect(claimQueries).toHaveLength(8);
    const ids = await w().t.sql(
      `SELECT i.external_id AS id FROM label_query q JOIN item i ON i.id = q.item_id WHERE q.id = ANY($1::bigint[])`,
      [claimQueries.map((c: any) => c.query.id)],
    );
    expect(ids.map((r: any) => r.id)).toEqual(expect.arrayContaining([x, y]));
    await w().screenshot(page, 'label-paused');
  });

  it('changes the answer just given with U', async () => {
    const d = await queueDataset(w().t, 'undo', { items: 10 });
    await openRound(w().t, d, 6);
    const { page } = await w().signedIn(
      await w().createKey(ApiKeyRole.ANNOTATOR, [d]),
      `#/label/${d}`,
    );
    const x = await shownItem(page);
    await page.keyboard.press('1');
    const y = await shownItem(page, x);
    await page.keyboard.press('u');
    await shownItem(page, y);
    expect(await page.locator('#item-title').getAttribute('data-external-id')).toBe(x);
    await page.keyboard.press('3');
    await page.locator('.notice', { hasText: `Changed the answer to item ${x}` }).waitFor();
    // Back on the item that was waiting, still held.
    expect(await shownItem(page, x)).toBe(y);
    const stored = await labelsByExternalId(d);
    expect(stored.get(x)?.value).toBe('bird');
    expect(stored.has(y)).toBe(false);
  });

  it('wakes up when a round opens, without a reload', async () => {
    const d = await queueDataset(w().t, 'waiting', { items: 10 });
    const { page } = await w().signedIn(
      await w().createKey(ApiKeyRole.ANNOTATOR, [d]),
      `#/label/${d}`,
    );
    await page.getByRole('heading', { name: 'Nothing to label right now' }).waitFor();
    await page.evaluate(() => ((globalThis as any).__stillHere = true));
    await openRound(w().t, d, 3);
    const x = await shownItem(page);
    await page.getByTestId('queue-left').filter({ hasText: /^3$/ }).waitFor();
    expect(await page.evaluate(() => (globalThis as any).__stillHere)).toBe(true);
    await page.keyboard.press('2');
    const stored = await waitFor(() => labelsByExternalId(d), {
      until: (m) => m.has(x),
      what: `a label of ${x}`,
    });
    expect(stored.get(x)?.value).toBe('dog');
  });

  it('finds a class by typing its name when there are more than ten', async () => {
    const classes = [
      'apple',
      'apricot',
      'banana',
      'blueberry',
      'cherry',
      'date',
      'fig',
      'grape',
      'kiwi',
      'lemon',
      'lime',
      'mango',
    ];
    const { createDataset } = await w().t.ok(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      {
        i: { name: 'fruit', classes, featureDim: 2 },
      },
    );
    const d = createDataset.id;
    await w().t.ok(
      'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
      {
        d,
        items: Array.from({ length: 6 }, (_, i) => ({
          externalId: `f${i}`,
          features: [i, 1],
          payload: { text: `fruit ${i}` },
        })),
      },
    );
    await openRound(w().t, d, 4);
    const { page } = await w().signedIn(
      await w().createKey(ApiKeyRole.ANNOTATOR, [d]),
      `#/label/${d}`,
    );
    const x = await shownItem(page);
    // Typing starts the search; Enter picks the first class that matches.
    await page.keyboard.type('mang');
    expect(await page.locator('button.class').allTextContents()).toEqual([
      expect.stringContaining('mango'),
    ]);
    await page.keyboard.press('Enter');
    const y = await shownItem(page, x);
    // Number keys pick by position among the classes shown: 2 is the second.
    await page.keyboard.press('2');
    await shownItem(page, y);
    const stored = await waitFor(() => labelsByExternalId(d), {
      until: (m) => m.size === 2,
      what: '2 labels',
    });
    expect(stored.get(x)?.value).toBe('mango');
    expect(stored.get(y)?.value).toBe('apricot');
    expect(await w().axe(page)).toEqual([]);
  });
  it('shows each payload by its type: text, an image URL, a record as a table, pixels', async () => {
    const image =
      'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';
    const payloads: Record<string, unknown> = {
      words: { text: 'A sentence to read.' },
      picture: { image },
      record: { name: 'Ada', age: 36 },
      grid: { pixels: Array.from({ length: 16 }, (_, i) => i) },
    };
    const { createDataset } = await w().t.ok(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      { i: { name: 'shapes', classes: CLASSES, featureDim: 2 } },
    );
    const d = createDataset.id;
    await w().t.ok(
      'mutation($d: ID!, $items: [ImportItemInput!]!) { importItems(datasetId: $d, items: $items) { importedCount } }',
      {
        d,
        items: Object.entries(payloads).map(([externalId, payload], i) => ({
          externalId,
          features: [i, 1],
          payload,
        })),
      },
    );
    await openRound(w().t, d, 4);
    const { page } = await w().signedIn(
      await w().createKey(ApiKeyRole.ANNOTATOR, [d]),
      `#/label/${d}`,
    );
    const seen: string[] = [];
    let x: string | null = null;
    for (let i = 0; i < 4; i++) {
      x = await shownItem(page, x);
      seen.push(x);
      const item = page.locator('section.item');
      if (x === 'words')
        expect(await item.locator('.payload-text').textContent()).toBe('A sentence to read.');
      if (x === 'picture')
        expect(await item.locator('img.payload-image').getAttribute('src')).toBe(image);
      if (x === 'record')
        expect(
          await item
            .locator('table.payload-table tr')
            .evaluateAll((rows) => rows.map((r: any) => r.innerText.split('\t'))),
        ).toEqual(
          // In the stored record's order (jsonb keeps its own).
          expect.arrayContaining([
            ['name', 'Ada'],
            ['age', '36'],
          ]),
        );
      if (x === 'grid') {
        const canvas = item.locator('canvas.payload-pixels');
        expect(await canvas.getAttribute('width')).toBe('4');
        // The last pixel holds the largest value: drawn black.
        expect(
          await canvas.evaluate((c: any) => [...c.getContext('2d').getImageData(3, 3, 1, 1).data]),
        ).toEqual([0, 0, 0, 255]);
      }
      await w().screenshot(page, `label-payload-${x}`);
      await page.keyboard.press('1');
    }
    expect(seen.sort()).toEqual(Object.keys(payloads).sort());
  });

  it('keeps the queue left current while other annotators answer steadily', async () => {
    const d = await queueDataset(w().t, 'busy', { items: 40 });
    await openRound(w().t, d, 30);
    const key = await w().createKey(ApiKeyRole.ANNOTATOR, [d]);
    const context = await w().browser.newContext({ bypassCSP: true });
    try {
      const page = await context.newPage();
      // The page's timers run on a clock the test moves, so "an event every 200 ms, for as long
      // as the others work" is exact whatever the machine's load.
      await page.clock.install();
      let events = 0;
      page.on('websocket', (ws) =>
        ws.on('framereceived', (f) => {
          if (String(f.payload).includes('queueChanged')) events++;
        }),
      );
      await page.goto(w().base);
      await page.getByLabel('API key').fill(key);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Datasets' }).waitFor();
      await page.goto(`${w().base}#/label/${d}`);
      await shownItem(page);
      const left = page.getByTestId('queue-left');
      await left.filter({ hasText: /^30$/ }).waitFor();
      // From here the page's time moves only when the test says so.
      await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1000);
      await page.clock.runFor(5000);

      const other = await w().createKey(ApiKeyRole.ANNOTATOR, [d]);
      const { claimQueries } = await w().t.ok(CLAIM, { d, n: 10, l: 300 }, other);
      for (const c of claimQueries) {
        const before = events;
        await w().t.ok(SUBMIT, { q: c.query.id, v: 'dog', t: c.token }, other);
        await waitFor(async () => events, {
          until: (n) => n > before,
          what: 'the answer reaching the page',
        });
        await page.clock.runFor(200);
      }
      // 2 s of answers, 200 ms apart: the count has moved, although the answers never paused.
      const moved = await waitFor(() => left.textContent(), {
        until: (text) => text !== '30',
        timeoutMs: 15_000,
        what: 'the queue left to move',
      });
      expect(Number(moved)).toBeLessThan(30);
      await page.clock.runFor(2000);
      await left.filter({ hasText: /^20$/ }).waitFor();
    } finally {
      await context.close();
    }
  });
});
