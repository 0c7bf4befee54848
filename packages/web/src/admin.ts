import {
  CreateApiKeyDocument,
  StrategiesDocument,
  parseCsv,
  type ApiKeyRole,
  type ImportItemInput,
  type ItemSplit,
  type PayloadKind,
} from '@quarry/client';
import { errorText, field, h, mount, notice } from './dom';
import type { Cleanup } from './main';
import type { Session } from './session';
import { schemaForm } from './schema-form';

/**
 * Admin basics: create a dataset, import a CSV (with a progress bar), create API keys (shown
 * once), start a round with a strategy and its parameters, train a model.
 */
export async function renderAdmin(main: HTMLElement, s: Session): Promise<Cleanup> {
  const { client } = s;
  const [datasets, { strategies }] = await Promise.all([
    client.datasets.list(),
    client.request(StrategiesDocument),
  ]);
  const pick = (name: string) =>
    h(
      'select',
      { name, required: true },
      datasets.map((d) => h('option', { value: d.id }, d.name)),
    );
  const section = (id: string, title: string, ...body: (Node | null)[]) =>
    h(
      'section',
      { class: 'panel', 'aria-labelledby': `${id}-title`, 'data-panel': id },
      h('h2', { id: `${id}-title` }, title),
      ...body,
    );
  const out = (id: string) => h('div', { id, class: 'result', role: 'status' });
  const refresh = () => void renderAdmin(main, s);

  // Create a dataset.
  const create = {
    name: h('input', { name: 'name', required: true, maxlength: 200 }),
    classes: h('input', { name: 'classes', required: true, placeholder: 'cat, dog, bird' }),
    featureDim: h('input', { name: 'featureDim', type: 'number', min: 1, required: true }),
    budget: h('input', { name: 'labelBudget', type: 'number', min: 0 }),
    perItem: h('input', { name: 'annotationsPerItem', type: 'number', min: 1, max: 100, value: 1 }),
    guidelines: h('textarea', { name: 'guidelines', rows: 4 }),
    payloadField: h('input', { name: 'payloadField' }),
    payloadKind: h(
      'select',
      { name: 'payloadKind' },
      ['AUTO', 'TEXT', 'IMAGE_URL', 'TABLE', 'PIXELS'].map((k) => h('option', { value: k }, k)),
    ),
  };
  const createOut = out('create-result');
  const createForm = h(
    'form',
    {
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        client.datasets
          .create({
            name: create.name.value,
            classes: create.classes.value
              .split(',')
              .map((c) => c.trim())
              .filter(Boolean),
            featureDim: Number(create.featureDim.value),
            labelBudget: create.budget.value === '' ? null : Number(create.budget.value),
            annotationsPerItem: Number(create.perItem.value) || 1,
            guidelines: create.guidelines.value,
            payloadField: create.payloadField.value.trim() || null,
            payloadKind: create.payloadKind.value as PayloadKind,
          })
          .then(
            (d) => {
              notice(`Dataset ${d.name} created.`);
              refresh();
            },
            (e: unknown) => (createOut.textContent = errorText(e)),
          );
      },
    },
    field('Name', create.name),
    field('Classes', create.classes, 'Comma-separated, in a fixed order.'),
    field('Feature length', create.featureDim),
    field('Label budget', create.budget, 'Empty for no limit.'),
    field('Annotators per item', create.perItem),
    field('Guidelines (Markdown)', create.guidelines),
    field('Payload field to show', create.payloadField, 'Empty to show the whole payload.'),
    field('Show the payload as', create.payloadKind),
    h('button', { type: 'submit', class: 'primary' }, 'Create dataset'),
    createOut,
  );

  // Import a CSV.
  const imp = {
    dataset: pick('dataset'),
    file: h('input', { type: 'file', name: 'file', accept: '.csv,text/csv', required: true }),
    id: h('input', { name: 'idColumn', placeholder: 'row number' }),
    label: h('input', { name: 'labelColumn', value: 'label' }),
    labelAs: h(
      'select',
      { name: 'labelAs' },
      h('option', { value: 'groundTruth' }, 'hidden ground truth (for simulations)'),
      h('option', { value: 'label' }, 'imported labels'),
      h('option', { value: 'ignore' }, 'ignored'),
    ),
    pixels: h('input', { type: 'checkbox', name: 'pixels' }),
    validation: h('input', {
      type: 'number',
      name: 'validation',
      min: 0,
      max: 0.9,
      step: 0.05,
      value: 0,
    }),
  };
  const bar = h('progress', { max: 1, value: 0, 'aria-label': 'Import progress' });
  const impOut = out('import-result');
  const importForm = h(
    'form',
    {
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        void importCsv();
      },
    },
    field('Dataset', imp.dataset),
    field('CSV file', imp.file, 'Every numeric column but the id and label columns is a feature.'),
    field('Id column', imp.id, 'Empty: the row number.'),
    field('Label column', imp.label),
    field('Use the label column as', imp.labelAs),
    h(
      'div',
      { class: 'field check' },
      imp.pixels,
      h(
        'label',
        { for: (imp.pixels.id = 'imp-pixels') },
        'Keep the features in the payload as a pixel image (and show them so)',
      ),
    ),
    field('Share held out as VALIDATION (labelled)', imp.validation),
    h('button', { type: 'submit', class: 'primary' }, 'Import'),
    bar,
    impOut,
  );
  const importCsv = async () => {
    const file = imp.file.files?.[0];
    if (!file) return;
    const datasetId = imp.dataset.value;
    const dataset = datasets.find((d) => d.id === datasetId)!;
    const labelCol = imp.label.value.trim();
    const idCol = imp.id.value.trim();
    const share = Number(imp.validation.value) || 0;
    const rowsTotal = Math.max(
      1,
      (await file.text()).split('\n').filter((l) => l.trim()).length - 1,
    );
    bar.max = rowsTotal;
    bar.value = 0;
    impOut.textContent = 'Importing…';
    let row = 0;
    async function* items(): AsyncGenerator<ImportItemInput> {
      for await (const r of parseCsv(chunks(file!))) {
        row++;
        const features = Object.entries(r)
          .filter(([k]) => k !== labelCol && k !== idCol)
          .map(([, v]) => Number(v));
        const held = share > 0 && (row * 0.6180339887) % 1 < share;
        const label = labelCol ? r[labelCol] : undefined;
        const item: ImportItemInput = {
          externalId: idCol ? r[idCol] : `row-${row}`,
          features,
          split: (held ? 'VALIDATION' : 'POOL') as ItemSplit,
        };
        if (imp.pixels.checked) item.payload = { pixels: features };
        if (label !== undefined && label !== '') {
          if (held || imp.labelAs.value === 'label') item.label = label;
          else if (imp.labelAs.value === 'groundTruth') item.groundTruth = label;
        }
        yield item;
      }
    }
    try {
      const progress = await client.items.import(datasetId, items(), {
        batchSize: 500,
        onProgress: (p) => {
          bar.value = p.imported;
          impOut.textContent = `Imported ${p.imported} of ${rowsTotal} rows…`;
        },
      });
      if (imp.pixels.checked && dataset.payloadField !== 'pixels') {
        await client.datasets.update(datasetId, { payloadField: 'pixels', payloadKind: 'PIXELS' });
      }
      bar.value = bar.max;
      impOut.textContent = `Imported ${progress.imported} items (${progress.labelled} labelled).`;
    } catch (e) {
      impOut.textContent = `Import failed: ${errorText(e)}`;
    }
  };

  // API keys.
  const key = {
    name: h('input', { name: 'keyName', required: true }),
    role: h(
      'select',
      { name: 'role' },
      ['ANNOTATOR', 'SERVICE', 'ADMIN'].map((r) => h('option', { value: r }, r)),
    ),
    dataset: h(
      'select',
      { name: 'keyDataset' },
      h('option', { value: '' }, 'all datasets'),
      datasets.map((d) => h('option', { value: d.id }, d.name)),
    ),
  };
  const keyOut = out('key-result');
  const keyForm = h(
    'form',
    {
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        client
          .request(CreateApiKeyDocument, {
            input: {
              name: key.name.value,
              role: key.role.value as ApiKeyRole,
              datasetIds: key.dataset.value ? [key.dataset.value] : null,
            },
          })
          .then(
            ({ createApiKey: k }) =>
              mount(
                keyOut,
                h(
                  'p',
                  null,
                  `Key ${k.apiKey.name} (${k.apiKey.role}) created. Copy it now: it is shown this once.`,
                ),
                h(
                  'output',
                  { class: 'secret', 'data-testid': 'new-key', 'aria-label': 'The new API key' },
                  k.secret,
                ),
              ),
            (e: unknown) => (keyOut.textContent = errorText(e)),
          );
      },
    },
    field('Name', key.name),
    field('Role', key.role),
    field('Limited to', key.dataset),
    h('button', { type: 'submit', class: 'primary' }, 'Create key'),
    keyOut,
  );

  // Rounds.
  const round = {
    dataset: pick('roundDataset'),
    strategy: h(
      'select',
      { name: 'strategy' },
      strategies.map((st) => h('option', { value: st.code }, st.code)),
    ),
    size: h('input', { name: 'size', type: 'number', min: 1, value: 50, required: true }),
    model: h('select', { name: 'model' }),
  };
  const paramsBox = h('div', { class: 'params-box' });
  let readParams: () => Record<string, unknown> = () => ({});
  const describe = h('p', { class: 'hint' });
  const showStrategy = () => {
    const st = strategies.find((x) => x.code === round.strategy.value);
    describe.textContent = st
      ? `${st.description} (needs: ${st.needs.join(', ').toLowerCase() || 'nothing'})`
      : '';
    const form = schemaForm(st?.paramsSchema, st?.defaults, 'Parameters');
    readParams = form.read;
    mount(paramsBox, form.element);
  };
  const loadModels = async () => {
    const models = await client.models.list(round.dataset.value);
    mount(
      round.model,
      h('option', { value: '' }, 'no model'),
      models
        .slice()
        .reverse()
        .map((m) => h('option', { value: m.id }, `v${m.version} ${m.name}`)),
    );
  };
  round.strategy.addEventListener('change', showStrategy);
  round.dataset.addEventListener('change', () => void loadModels());
  const roundOut = out('round-result');
  const roundForm = h(
    'form',
    {
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        let params: Record<string, unknown>;
        try {
          params = readParams();
        } catch (e) {
          roundOut.textContent = errorText(e);
          return;
        }
        roundOut.textContent = 'Starting…';
        client.rounds
          .start({
            datasetId: round.dataset.value,
            strategy: round.strategy.value,
            size: Number(round.size.value),
            modelIds: round.model.value ? [round.model.value] : [],
            params,
          })
          .then(
            (r) => (roundOut.textContent = `Round ${r.strategy} is ${r.status}.`),
            (e: unknown) => (roundOut.textContent = errorText(e)),
          );
      },
    },
    field('Dataset', round.dataset),
    field('Strategy', round.strategy),
    describe,
    paramsBox,
    field('Size', round.size),
    field('Model', round.model),
    h('button', { type: 'submit', class: 'primary' }, 'Start round'),
    roundOut,
  );

  // Training.
  const trainDataset = pick('trainDataset');
  const trainOut = out('train-result');
  const trainForm = h(
    'form',
    {
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        trainOut.textContent = 'Training…';
        client.models.train({ datasetId: trainDataset.value }).then(
          (r) =>
            (trainOut.textContent =
              r.status === 'SUCCEEDED'
                ? `Model v${r.model?.version} registered.`
                : `${r.status}: ${r.error ?? ''}`),
          (e: unknown) => (trainOut.textContent = errorText(e)),
        );
      },
    },
    field('Dataset', trainDataset),
    h('button', { type: 'submit', class: 'primary' }, 'Train a model'),
    trainOut,
  );

  const hasData = datasets.length > 0;
  mount(
    main,
    h('h1', null, 'Admin'),
    h(
      'div',
      { class: 'grid' },
      section('create', 'Create a dataset', createForm),
      hasData ? section('import', 'Import a CSV', importForm) : null,
      section('keys', 'Create an API key', keyForm),
      hasData ? section('round', 'Start a round', roundForm) : null,
      hasData ? section('train', 'Train a model', trainForm) : null,
    ),
  );
  showStrategy();
  if (hasData) await loadModels();
  return () => undefined;
}

/** A File's text as an async iterable of chunks (for parseCsv). */
async function* chunks(file: File): AsyncGenerator<Uint8Array> {
  const reader = file.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}
