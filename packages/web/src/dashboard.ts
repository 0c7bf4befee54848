import {
  AutoLabelRunsDocument,
  LabellingStatsDocument,
  LearningCurveDocument,
  QueueDepthDocument,
  RoundsDocument,
  SimulationsDocument,
  StreamDecisionsDocument,
  type RoundsQuery,
} from '@quarry/client';
import { lineChart } from './charts';
import { errorText, h, mount, notice, pct } from './dom';
import { followQueue, followRound, throttle } from './live';
import type { Cleanup } from './main';
import type { Session } from './session';

type Round = RoundsQuery['rounds']['nodes'][number];
const ACTIVE = new Set(['QUEUED', 'SCORING', 'SELECTING']);

function panel(title: string, id: string): { section: HTMLElement; body: HTMLElement } {
  const body = h('div', { class: 'panel-body' });
  const section = h(
    'section',
    { class: 'panel', 'aria-labelledby': `${id}-title`, 'data-panel': id },
    h('h2', { id: `${id}-title` }, title),
    body,
  );
  return { section, body };
}

/** Mounts `build()` into `el` only when `data` changed since the last time (charts keep still). */
function renderIfChanged(
  el: HTMLElement & { _last?: string },
  data: unknown,
  build: () => (Node | string | null)[],
): void {
  const json = JSON.stringify(data);
  if (el._last === json) return;
  el._last = json;
  mount(el, ...build());
}

function th(...labels: string[]) {
  return h(
    'thead',
    null,
    h(
      'tr',
      null,
      labels.map((l) => h('th', { scope: 'col' }, l)),
    ),
  );
}

/**
 * A dataset's dashboard: queue and budget, rounds with progress, the learning curve and
 * simulations, throughput, annotators, class balance, auto-label runs and stream decisions.
 * Queue and rounds follow subscriptions; the rest is read again every few seconds.
 */
export async function renderDashboard(
  main: HTMLElement,
  s: Session,
  datasetId: string,
): Promise<Cleanup> {
  const { client } = s;
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const refreshMs = Math.max(1000, Number(params.get('refresh')) * 1000 || 5000);
  const dataset = await client.datasets.get(datasetId);

  const queue = panel('Queue and budget', 'queue');
  const rounds = panel('Rounds', 'rounds');
  const curve = panel('Learning curve', 'curve');
  const sims = panel('Simulations', 'simulations');
  const flow = panel('Queue depth and throughput', 'flow');
  const people = panel('Annotators', 'annotators');
  const balance = panel('Class balance of the labels', 'balance');
  const auto = panel('Auto-label runs', 'autolabel');
  const stream = panel('Stream decisions', 'stream');
  const canTrain = s.viewer.role !== 'ANNOTATOR';
  mount(
    main,
    h('h1', null, `Dashboard · ${dataset.name}`),
    h(
      'p',
      { class: 'links' },
      h('a', { href: `#/label/${dataset.id}` }, 'Label this dataset'),
      canTrain
        ? [' · ', h('button', { type: 'button', onclick: () => void train() }, 'Train a model now')]
        : null,
    ),
    h(
      'div',
      { class: 'grid' },
      queue.section,
      rounds.section,
      curve.section,
      flow.section,
      people.section,
      balance.section,
      auto.section,
      stream.section,
      sims.section,
    ),
  );

  // Queue depth over this page's life, sampled at every change.
  const depthSeries: { t: number; depth: number }[] = [];
  let disposed = false;

  const refreshQueue = async () => {
    const r = await client.request(QueueDepthDocument, { datasetId: dataset.id });
    const b = r.dataset.budget;
    depthSeries.push({ t: Date.now() / 1000, depth: r.labelQueue.totalCount });
    if (depthSeries.length > 500) depthSeries.shift();
    renderIfChanged(queue.body, r, () => [
      h(
        'dl',
        { class: 'stats' },
        h('dt', null, 'Open queries in the queue'),
        h('dd', { 'data-testid': 'queue-depth' }, r.labelQueue.totalCount),
        h('dt', null, 'Budget'),
        h('dd', null, b.total === null ? 'no limit' : `${b.total}`),
        h('dt', null, 'Spent'),
        h('dd', { 'data-testid': 'budget-spent' }, b.spent),
        h('dt', null, 'Held by claims'),
        h('dd', null, b.held),
        h('dt', null, 'Owed to open queries'),
        h('dd', null, b.owed),
        h('dt', null, 'Reserved by rounds being scored'),
        h('dd', null, b.reserved),
        h('dt', null, 'Remaining'),
        h('dd', null, b.remaining ?? 'no limit'),
      ),
      h(
        'table',
        { class: 'data' },
        h('caption', null, 'Budget by mechanism'),
        th('Mechanism', 'Spent', 'Held', 'Owed'),
        h(
          'tbody',
          null,
          b.byMechanism.map((m) =>
            h(
              'tr',
              null,
              h('th', { scope: 'row' }, m.mechanism),
              h('td', null, m.spent),
              h('td', null, m.held),
              h('td', null, m.owed),
            ),
          ),
        ),
      ),
    ]);
  };

  const roundFollowers = new Map<string, () => void>();
  let roundList: Round[] = [];
  const renderRounds = () => {
    mount(
      rounds.body,
      roundList.length === 0
        ? h('p', null, 'No round yet.')
        : h(
            'table',
            { class: 'data' },
            th('Strategy', 'Mechanism', 'Size', 'Status', 'Progress'),
            h(
              'tbody',
              null,
              roundList.slice(0, 20).map((r) => {
                const scoring = ACTIVE.has(r.status);
                const max = scoring ? Math.max(1, r.progress.total) : Math.max(1, r.size);
                const value = scoring ? r.progress.scored : r.answeredCount;
                const text = scoring
                  ? `scored ${r.progress.scored} of ${r.progress.total}`
                  : `${r.answeredCount} of ${r.size} answered`;
                return h(
                  'tr',
                  { 'data-round': r.id },
                  h('th', { scope: 'row' }, r.strategy),
                  h('td', null, r.mechanism),
                  h('td', null, r.size),
                  h(
                    'td',
                    { 'data-testid': 'round-status' },
                    r.status,
                    r.error ? h('span', { class: 'error' }, ` (${r.error})`) : null,
                  ),
                  h(
                    'td',
                    null,
                    h('progress', { max, value, 'aria-label': `Round ${r.strategy}: ${text}` }),
                    h(
                      'span',
                      { class: 'progress-text', 'data-testid': 'round-progress' },
                      ` ${text}`,
                    ),
                  ),
                );
              }),
            ),
          ),
    );
  };
  const refreshRounds = async () => {
    // The newest rounds: a dashboard panel, not an archive (the API pages the rest).
    roundList = (await client.request(RoundsDocument, { datasetId: dataset.id, first: 50 })).rounds
      .nodes;
    renderRounds();
    for (const r of roundList) {
      if (!ACTIVE.has(r.status) || roundFollowers.has(r.id)) continue;
      roundFollowers.set(
        r.id,
        followRound(client, r.id, (e) => {
          const row = roundList.find((x) => x.id === e.roundId);
          if (!row) return;
          const changed = row.status !== e.status;
          row.status = e.status;
          row.progress = { scored: e.scored, total: e.total ?? row.progress.total };
          row.error = e.error ?? null;
          renderRounds();
          if (changed && !ACTIVE.has(e.status)) {
            roundFollowers.get(r.id)?.();
            roundFollowers.delete(r.id);
            void refreshRounds();
          }
        }),
      );
    }
  };

  const refreshSlow = async () => {
    const [lc, stats, runs, decisions, simulations] = await Promise.all([
      client.request(LearningCurveDocument, { datasetId: dataset.id }),
      client.request(LabellingStatsDocument, { datasetId: dataset.id }).catch(() => null),
      client.request(AutoLabelRunsDocument, { datasetId: dataset.id, first: 20 }).catch(() => null),
      client
        .request(StreamDecisionsDocument, { datasetId: dataset.id, first: 20 })
        .catch(() => null),
      client.request(SimulationsDocument, { datasetId: dataset.id }).catch(() => null),
    ]);
    const points = lc.learningCurve;
    renderIfChanged(curve.body, points, () => [
      lineChart({
        caption: 'Accuracy and macro-F1 on the VALIDATION items, per model version',
        xLabel: 'Model version',
        yLabel: 'Score',
        x: points.map((p) => p.model.version),
        yRange: [0, 1],
        series: [
          { label: 'Accuracy', values: points.map((p) => p.metrics?.accuracy ?? null) },
          { label: 'Macro-F1', values: points.map((p) => p.metrics?.macroF1 ?? null) },
        ],
      }),
      h(
        'table',
        { class: 'data', 'data-testid': 'learning-curve' },
        h('caption', null, 'Model versions'),
        th('Version', 'Human labels', 'Accuracy', 'Macro-F1'),
        h(
          'tbody',
          null,
          points.map((p) =>
            h(
              'tr',
              null,
              h('th', { scope: 'row' }, `v${p.model.version}`),
              h('td', null, p.humanLabels),
              h('td', null, pct(p.metrics?.accuracy)),
              h('td', null, pct(p.metrics?.macroF1)),
            ),
          ),
        ),
      ),
    ]);
    if (stats) {
      const st = stats.labellingStats;
      const throughput = st.throughput.map((t) => ({
        t: Date.parse(t.minute) / 1000,
        n: t.answers,
      }));
      renderIfChanged(
        flow.body,
        {
          st: st.throughput,
          d: depthSeries.length > 0 ? depthSeries[depthSeries.length - 1] : null,
        },
        () => [
          lineChart({
            caption: 'Open queries in the queue, while this page is open',
            xLabel: 'Time',
            yLabel: 'Queries',
            xTime: true,
            xRange:
              depthSeries.length === 1 ? [depthSeries[0].t - 60, depthSeries[0].t + 60] : undefined,
            x: depthSeries.map((d) => d.t),
            series: [{ label: 'Queue depth', values: depthSeries.map((d) => d.depth) }],
          }),
          lineChart({
            caption: 'Answers per minute, last hour',
            xLabel: 'Minute',
            yLabel: 'Answers',
            xTime: true,
            bars: true,
            xRange: [Date.now() / 1000 - 3600, Date.now() / 1000 + 60],
            x: throughput.map((t) => t.t),
            series: [{ label: 'Answers', values: throughput.map((t) => t.n) }],
          }),
        ],
      );
      const agreement = new Map(stats.annotatorAgreement.map((a) => [a.annotatorId, a]));
      renderIfChanged(people.body, stats, () => [
        st.annotators.length === 0
          ? h('p', null, 'No answers yet.')
          : h(
              'table',
              { class: 'data', 'data-testid': 'annotators' },
              th('Annotator', 'Answers', 'Skips', 'Agreement', 'Seconds per answer', 'Last answer'),
              h(
                'tbody',
                null,
                st.annotators.map((a) =>
                  h(
                    'tr',
                    null,
                    h('th', { scope: 'row' }, a.annotatorId),
                    h('td', null, a.answers),
                    h('td', null, a.skips),
                    h('td', null, pct(agreement.get(a.annotatorId)?.rate)),
                    h(
                      'td',
                      null,
                      a.secondsPerAnswer === null ? '–' : a.secondsPerAnswer.toFixed(1),
                    ),
                    h('td', null, a.lastAnswerAt ? new Date(a.lastAnswerAt).toLocaleString() : '–'),
                  ),
                ),
              ),
            ),
      ]);
      renderIfChanged(balance.body, st.classBalance, () => {
        const bySource = new Map<string, Map<string, number>>();
        for (const c of st.classBalance) {
          if (!bySource.has(c.source)) bySource.set(c.source, new Map());
          bySource.get(c.source)!.set(c.value, c.count);
        }
        const max = Math.max(1, ...st.classBalance.map((c) => c.count));
        return [
          st.classBalance.length === 0
            ? h('p', null, 'No labels yet.')
            : h(
                'table',
                { class: 'data balance' },
                th('Class', ...[...bySource.keys()]),
                h(
                  'tbody',
                  null,
                  dataset.classes.map((c) =>
                    h(
                      'tr',
                      null,
                      h('th', { scope: 'row' }, c),
                      [...bySource.values()].map((m) => {
                        const n = m.get(c) ?? 0;
                        return h(
                          'td',
                          null,
                          h('span', {
                            class: 'bar',
                            style: `width:${Math.round((n / max) * 100)}%`,
                          }),
                          ` ${n}`,
                        );
                      }),
                    ),
                  ),
                ),
              ),
        ];
      });
    }
    if (runs) {
      renderIfChanged(auto.body, runs, () => [
        runs.autoLabelRuns.nodes.length === 0
          ? h('p', null, 'No auto-label run.')
          : h(
              'table',
              { class: 'data' },
              th(
                'Status',
                'Threshold',
                'Labelled',
                'Coverage (validation)',
                'Audits',
                'Audit agreement (95% interval)',
              ),
              h(
                'tbody',
                null,
                runs.autoLabelRuns.nodes
                  .slice(0, 20)
                  .map((r) =>
                    h(
                      'tr',
                      null,
                      h('th', { scope: 'row' }, r.status),
                      h(
                        'td',
                        null,
                        r.threshold === null
                          ? '–'
                          : `${r.threshold.toFixed(3)} (${r.thresholdSource.toLowerCase()})`,
                      ),
                      h('td', null, r.labelledCount ?? '–'),
                      h('td', null, pct(r.validation?.coverage)),
                      h('td', null, `${r.audit?.audited ?? 0} of ${r.auditCount ?? 0}`),
                      h(
                        'td',
                        null,
                        r.audit && r.audit.rate !== null
                          ? `${pct(r.audit.rate)} (${pct(r.audit.lower)}–${pct(r.audit.upper)})`
                          : '–',
                      ),
                    ),
                  ),
              ),
            ),
      ]);
    }
    if (decisions) {
      const d = decisions.streamDecisions;
      renderIfChanged(stream.body, d, () => [
        d.totalCount === 0
          ? h('p', null, 'No stream decision.')
          : h(
              'table',
              { class: 'data' },
              h('caption', null, `First ${d.edges.length} of ${d.totalCount} decisions`),
              th('Decision', 'Class', 'Score', 'Threshold', 'When'),
              h(
                'tbody',
                null,
                d.edges.map(({ node: n }) =>
                  h(
                    'tr',
                    null,
                    h('th', { scope: 'row' }, n.decision),
                    h('td', null, n.value),
                    h('td', null, n.score.toFixed(3)),
                    h('td', null, n.threshold.toFixed(3)),
                    h('td', null, new Date(n.createdAt).toLocaleString()),
                  ),
                ),
              ),
            ),
      ]);
    }
    if (simulations) {
      const done = simulations.simulations.nodes.find((x) => x.status === 'SUCCEEDED');
      renderIfChanged(sims.body, done ?? null, () => {
        if (!done)
          return [
            h(
              'p',
              null,
              'No finished simulation. Run one (quarry simulate) to compare strategies on this data.',
            ),
          ];
        const xs = [
          ...new Set((done.curves ?? []).flatMap((c) => c.points.map((p) => p.labels))),
        ].sort((a, b) => a - b);
        return [
          lineChart({
            caption: 'Simulated accuracy on TEST by labels spent, per strategy (latest simulation)',
            xLabel: 'Labels',
            yLabel: 'Accuracy',
            yRange: [0, 1],
            x: xs,
            series: (done.curves ?? []).map((c) => ({
              label: c.strategy,
              values: xs.map((x) => c.points.find((p) => p.labels === x)?.meanAccuracy ?? null),
            })),
          }),
        ];
      });
    }
  };

  const safe = (f: () => Promise<void>) => () =>
    void f().catch((e: unknown) => {
      if (!disposed) notice(`Dashboard refresh failed: ${errorText(e)}`, 'error');
    });
  const fast = throttle(
    safe(async () => {
      await Promise.all([refreshQueue(), refreshRounds()]);
    }),
    1000,
  );
  const stopQueue = followQueue(client, dataset.id, fast, fast);
  const slow = setInterval(safe(refreshSlow), refreshMs);

  const train = async () => {
    notice('Training started…');
    try {
      const run = await client.models.train({ datasetId: dataset.id });
      notice(
        run.status === 'SUCCEEDED'
          ? `Model v${run.model?.version} trained.`
          : `Training ${run.status}: ${run.error ?? ''}`,
        run.status === 'SUCCEEDED' ? 'info' : 'error',
      );
      await refreshSlow();
    } catch (e) {
      notice(`Training failed: ${errorText(e)}`, 'error');
    }
  };

  await Promise.all([refreshQueue(), refreshRounds(), refreshSlow()]);
  return () => {
    disposed = true;
    stopQueue();
    clearInterval(slow);
    for (const stop of roundFollowers.values()) stop();
  };
}
