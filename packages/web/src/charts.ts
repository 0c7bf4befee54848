import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom';

/** One line of a chart: drawn with its own dash pattern and point size, so colour is not needed. */
export interface Series {
  label: string;
  values: (number | null)[];
}

// Colour-blind-safe hues (Okabe-Ito), each paired with a dash pattern.
const STYLES: { stroke: string; dash: number[] }[] = [
  { stroke: '#0072B2', dash: [] },
  { stroke: '#D55E00', dash: [8, 4] },
  { stroke: '#009E73', dash: [2, 3] },
  { stroke: '#CC79A7', dash: [12, 3, 2, 3] },
  { stroke: '#56B4E9', dash: [4, 4] },
  { stroke: '#E69F00', dash: [1, 6] },
];

/**
 * A line chart (uPlot) in a figure with a caption, and the same numbers as a table in a
 * disclosure, for screen readers and for reading exact values. `data-points` on the figure
 * counts the x values.
 */
export function lineChart(opts: {
  caption: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  series: Series[];
  yRange?: [number, number];
  bars?: boolean;
  xTime?: boolean;
  /** The x axis's range (default: the data's); e.g. the last hour for a time chart. */
  xRange?: [number, number];
}): HTMLElement {
  const plot = h('div', { class: 'chart', 'aria-hidden': 'true' });
  const figure = h(
    'figure',
    { class: 'chart-figure', 'data-points': opts.x.length },
    h('figcaption', null, opts.caption),
    plot,
    dataTable(opts),
  );
  if (opts.x.length === 0) {
    plot.replaceWith(h('p', { class: 'empty' }, 'No data yet.'));
    return figure;
  }
  const width = 520;
  // Drawn once the figure is in the document (uPlot measures fonts).
  requestAnimationFrame(() => {
    new uPlot(
      {
        width,
        height: 220,
        legend: { show: true },
        cursor: { show: true },
        scales: {
          x: opts.xRange
            ? { time: opts.xTime === true, range: opts.xRange }
            : { time: opts.xTime === true },
          y: opts.yRange ? { range: opts.yRange } : { auto: true },
        },
        axes: [
          // Whole steps on a count axis (model versions, labels), never 1.2 or 1.4.
          opts.xTime
            ? { label: opts.xLabel, stroke: '#222' }
            : {
                label: opts.xLabel,
                stroke: '#222',
                incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000],
              },
          { label: opts.yLabel, stroke: '#222' },
        ],
        series: [
          { label: opts.xLabel },
          ...opts.series.map((s, i) => {
            const style = STYLES[i % STYLES.length];
            return {
              label: s.label,
              stroke: style.stroke,
              dash: style.dash,
              width: 2,
              fill: opts.bars ? style.stroke + '55' : undefined,
              paths: opts.bars ? uPlot.paths.bars!({ size: [0.6, 40] }) : undefined,
              points: { show: true, size: 5 + i * 2 },
            };
          }),
        ],
      },
      [opts.x, ...opts.series.map((s) => s.values)] as uPlot.AlignedData,
      plot,
    );
  });
  return figure;
}

function dataTable(opts: {
  caption: string;
  xLabel: string;
  x: number[];
  series: Series[];
  xTime?: boolean;
}): HTMLElement {
  const fmt = (v: number | null) =>
    v === null ? '–' : Number.isInteger(v) ? String(v) : v.toFixed(3);
  const fmtX = (v: number) => (opts.xTime ? new Date(v * 1000).toLocaleTimeString() : fmt(v));
  return h(
    'details',
    { class: 'chart-data' },
    h('summary', null, 'Data'),
    h(
      'table',
      { class: 'data' },
      h('caption', { class: 'visually-hidden' }, opts.caption),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', { scope: 'col' }, opts.xLabel),
          opts.series.map((s) => h('th', { scope: 'col' }, s.label)),
        ),
      ),
      h(
        'tbody',
        null,
        opts.x.map((x, i) =>
          h(
            'tr',
            null,
            h('th', { scope: 'row' }, fmtX(x)),
            opts.series.map((s) => h('td', null, fmt(s.values[i] ?? null))),
          ),
        ),
      ),
    ),
  );
}
