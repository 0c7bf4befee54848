/**
 * Learning curves of an active-learning simulation, as an SVG chart a person can open and as a
 * plain-text table for the terminal. Pure: no files, no network, same input -> same bytes.
 *
 * The chart is a Vega-Lite spec rendered headless by Vega's `View#toSVG()` (no canvas, no
 * native code). Vega 6 and Vega-Lite 6 ship as ES modules only, so they are loaded with a real
 * dynamic `import()` (tsc's `node16` module mode keeps it as such in CommonJS output) once per
 * process.
 */
import type { TopLevelSpec } from 'vega-lite' with { 'resolution-mode': 'import' };
import type { SimulationPoint as EnginePoint } from './simulation.types';

/**
 * One evaluation point of one strategy, aggregated over the simulation's repeats: the part of
 * the engine's point the chart draws.
 */
export type SimulationPoint = Pick<
  EnginePoint,
  'labels' | 'meanAccuracy' | 'stdAccuracy' | 'minAccuracy' | 'maxAccuracy'
>;

/** The learning curve of one query strategy. */
export interface SimulationStrategyResult {
  /** The strategy's registry code, e.g. `margin`. */
  code: string;
  points: SimulationPoint[];
  /** Area under the (normalised) learning curve, mean and standard deviation over repeats. */
  auc: { mean: number; std: number };
}

/** What a simulation run produces: one learning curve per strategy over shared label counts. */
export interface SimulationResult {
  /** The label counts at which every strategy was evaluated, ascending. */
  labelCounts: number[];
  strategies: SimulationStrategyResult[];
  trainer?: { code: string };
  title?: string;
}

/** Options of {@link renderLearningCurvesSvg}. */
export interface LearningCurvesChartOptions {
  /** Chart title; defaults to `result.title`, then to `Learning curves`. */
  title?: string;
  /** Width of the whole SVG in pixels, legend included. Default 720. */
  width?: number;
  /** Height of the whole SVG in pixels, title included. Default 420. */
  height?: number;
  /** What the shaded band around each curve spans: ±1 standard deviation (default) or the
   * minimum to maximum accuracy over repeats. */
  band?: 'std' | 'min-max';
}

const CHART_DEFAULTS = {
  width: 720,
  height: 420,
  band: 'std',
} as const satisfies Required<Omit<LearningCurvesChartOptions, 'title'>>;

const DEFAULT_TITLE = 'Learning curves';

/** Up to this many label counts, the x axis ticks sit exactly on them. */
const MAX_EXPLICIT_X_TICKS = 12;

type VegaModules = [
  typeof import('vega', { with: { 'resolution-mode': 'import' } }),
  typeof import('vega-lite', { with: { 'resolution-mode': 'import' } }),
];
let vegaModules: Promise<VegaModules> | undefined;

function loadVega(): Promise<VegaModules> {
  vegaModules ??= (async (): Promise<VegaModules> => {
    // One after the other: the two share modules (vega-util, vega-expression), and Jest's ESM
    // loader fails with "request for './accessor.js' is not in cache" when both link at once.
    const vega = await import('vega');
    const vegaLite = await import('vega-lite');
    return [vega, vegaLite];
  })().catch((error: unknown) => {
    vegaModules = undefined;
    throw error;
  });
  return vegaModules;
}

/**
 * Renders one line per strategy (mean test accuracy against labels), a shaded band per strategy
 * (±1 std by default, clamped to [0, 1]) and a legend whose entries carry the AUC, e.g.
 * `margin (AUC 0.871)`. The y axis is zoomed to the data rather than spanning 0 to 1.
 *
 * @throws RangeError when the result or the options are malformed; the message names the field.
 * @example
 * const svg = await renderLearningCurvesSvg(result, { title: 'digits, logistic' });
 * await fs.promises.writeFile('curves.svg', svg);
 */
export async function renderLearningCurvesSvg(
  result: SimulationResult,
  opts: LearningCurvesChartOptions = {},
): Promise<string> {
  validateResult(result);
  const options = { ...CHART_DEFAULTS, ...withoutUndefined(opts) };
  validateOptions(options);
  const spec = learningCurvesSpec(result, { ...options, title: options.title ?? result.title });

  const [vega, vegaLite] = await loadVega();
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

interface ChartRow {
  series: string;
  labels: number;
  mean: number;
  lower: number;
  upper: number;
}

function learningCurvesSpec(
  result: SimulationResult,
  options: Required<Omit<LearningCurvesChartOptions, 'title'>> & { title?: string },
): TopLevelSpec {
  const seriesNames = result.strategies.map(seriesName);
  const rows: ChartRow[] = result.strategies.flatMap((strategy, i) =>
    strategy.points.map((p) => {
      const [lower, upper] =
        options.band === 'std'
          ? [p.meanAccuracy - p.stdAccuracy, p.meanAccuracy + p.stdAccuracy]
          : [p.minAccuracy, p.maxAccuracy];
      return {
        series: seriesNames[i],
        labels: p.labels,
        mean: p.meanAccuracy,
        lower: clamp01(lower),
        upper: clamp01(upper),
      };
    }),
  );

  const labelValues = rows.map((r) => r.labels).concat(result.labelCounts);
  const xMin = Math.min(...labelValues);
  const xMax = Math.max(...labelValues);
  const xTicks = [...new Set(labelValues)].sort((a, b) => a - b);

  const title = options.title ?? DEFAULT_TITLE;
  const color = {
    field: 'series',
    type: 'nominal',
    // Input order, not alphabetical, so the legend lists strategies as the caller gave them.
    scale: { domain: seriesNames },
    sort: null,
    // The legend is shared with the faint bands; full opacity keeps its swatches readable.
    legend: { title: 'strategy', orient: 'right', labelLimit: 320, symbolOpacity: 1 },
  } as const;
  const x = {
    field: 'labels',
    type: 'quantitative',
    title: 'labels',
    // A single label count would give a zero-width domain; widen it so the point sits mid-axis.
    scale: { domain: xMin === xMax ? [xMin - 1, xMax + 1] : [xMin, xMax], nice: false },
    axis: {
      format: 'd',
      ...(xTicks.length <= MAX_EXPLICIT_X_TICKS ? { values: xTicks } : {}),
    },
  } as const;
  const yScale = { domain: yDomain(rows), nice: true, zero: false };

  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: title,
      subtitle: [
        ...(result.trainer ? [`trainer: ${result.trainer.code}`] : []),
        `band: ${options.band === 'std' ? '±1 std' : 'min to max'} over repeats`,
      ].join(', '),
    },
    width: options.width,
    height: options.height,
    autosize: { type: 'fit', contains: 'padding' },
    background: 'white',
    data: { values: rows },
    layer: [
      {
        mark: { type: 'area', opacity: 0.18 },
        encoding: {
          x,
          y: { field: 'lower', type: 'quantitative', scale: yScale, title: 'test accuracy' },
          y2: { field: 'upper' },
          color,
        },
      },
      {
        mark: { type: 'line', point: true, strokeWidth: 2 },
        encoding: {
          x,
          y: {
            field: 'mean',
            type: 'quantitative',
            scale: yScale,
            title: 'test accuracy',
          },
          color,
        },
      },
    ],
  };
}

function seriesName(strategy: SimulationStrategyResult): string {
  return `${strategy.code} (AUC ${strategy.auc.mean.toFixed(3)})`;
}

/** Accuracy spans narrower than this are widened around their middle, so one flat point does not
 * fill the plot with ticks a thousandth apart. */
const MIN_Y_SPAN = 0.1;

/** The data's accuracy range with a little air, at least {@link MIN_Y_SPAN} wide, within [0, 1]. */
function yDomain(rows: readonly ChartRow[]): [number, number] {
  const low = Math.min(...rows.map((r) => r.lower));
  const high = Math.max(...rows.map((r) => r.upper));
  const pad = Math.max((high - low) * 0.05, (MIN_Y_SPAN - (high - low)) / 2);
  let [from, to] = [low - pad, high + pad];
  // Shift rather than cut a window that pokes out of [0, 1], so it keeps its width.
  if (from < 0) [from, to] = [0, to - from];
  if (to > 1) [from, to] = [from - (to - 1), 1];
  return [clamp01(from), clamp01(to)];
}

function clamp01(value: number): number {
  return Math.min(1, Math.max(0, value));
}

/**
 * A plain-text table, one row per strategy, one column per label count (`mean ± std` of test
 * accuracy, 3 decimals) and a last column with the AUC. A strategy with no point at a label
 * count shows `-` there. No colour codes, so it can go to a log or a file as it is.
 *
 * @example
 * strategy  |            10 |            20 |           AUC
 * ----------+---------------+---------------+--------------
 * margin    | 0.712 ± 0.020 | 0.801 ± 0.011 | 0.871 ± 0.004
 */
export function formatSimulationTable(result: SimulationResult): string {
  validateResult(result);
  const header = ['strategy', ...result.labelCounts.map(String), 'AUC'];
  const body = result.strategies.map((strategy) => {
    const byLabels = new Map(strategy.points.map((p) => [p.labels, p]));
    return [
      strategy.code,
      ...result.labelCounts.map((count) => {
        const point = byLabels.get(count);
        return point ? meanStd(point.meanAccuracy, point.stdAccuracy) : '-';
      }),
      meanStd(strategy.auc.mean, strategy.auc.std),
    ];
  });

  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...body.map((row) => row[column].length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]),
      )
      .join(' | ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('-+-');
  return [line(header), rule, ...body.map(line)].join('\n') + '\n';
}

function meanStd(mean: number, std: number): string {
  return `${mean.toFixed(3)} ± ${std.toFixed(3)}`;
}

function validateResult(result: SimulationResult): void {
  if (!Array.isArray(result.labelCounts) || result.labelCounts.length === 0) {
    throw new RangeError('result.labelCounts must be a non-empty array of label counts');
  }
  result.labelCounts.forEach((count, i) =>
    requireFinite(count, `result.labelCounts[${i}]`, 'a label count'),
  );
  const labelCounts = new Set(result.labelCounts);
  if (labelCounts.size !== result.labelCounts.length) {
    throw new RangeError(
      `result.labelCounts must not repeat a count, got [${result.labelCounts.join(', ')}]`,
    );
  }
  if (!Array.isArray(result.strategies) || result.strategies.length === 0) {
    throw new RangeError(
      'result.strategies must hold at least one strategy; there is nothing to show',
    );
  }
  const codes = new Set<string>();
  result.strategies.forEach((strategy, s) => {
    const path = `result.strategies[${s}]`;
    if (typeof strategy.code !== 'string' || strategy.code === '') {
      throw new RangeError(`${path}.code must be a non-empty string`);
    }
    if (codes.has(strategy.code)) {
      throw new RangeError(
        `${path}.code '${strategy.code}' appears twice; each strategy needs its own code`,
      );
    }
    codes.add(strategy.code);
    if (!Array.isArray(strategy.points) || strategy.points.length === 0) {
      throw new RangeError(`${path}.points must hold at least one point`);
    }
    strategy.points.forEach((p, i) => {
      const at = `${path}.points[${i}]`;
      requireFinite(p.labels, `${at}.labels`, 'a label count');
      if (!labelCounts.has(p.labels)) {
        throw new RangeError(
          `${at}.labels is ${p.labels}, which is not in result.labelCounts [${result.labelCounts.join(', ')}]`,
        );
      }
      for (const key of ['meanAccuracy', 'stdAccuracy', 'minAccuracy', 'maxAccuracy'] as const) {
        requireFinite(p[key], `${at}.${key}`, 'an accuracy');
      }
    });
    requireFinite(strategy.auc?.mean, `${path}.auc.mean`, 'an AUC');
    requireFinite(strategy.auc?.std, `${path}.auc.std`, 'an AUC standard deviation');
  });
}

function validateOptions(options: Required<Omit<LearningCurvesChartOptions, 'title'>>): void {
  for (const key of ['width', 'height'] as const) {
    const value = options[key];
    if (!Number.isInteger(value) || value < 100) {
      throw new RangeError(
        `options.${key} must be an integer of at least 100 pixels, got ${value}`,
      );
    }
  }
  if (options.band !== 'std' && options.band !== 'min-max') {
    throw new RangeError(`options.band must be 'std' or 'min-max', got '${String(options.band)}'`);
  }
}

function requireFinite(value: unknown, path: string, what: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`${path} must be a finite number (${what}), got ${String(value)}`);
  }
}

/** Drops keys set to `undefined` so they do not override the defaults when spread over them. */
function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
