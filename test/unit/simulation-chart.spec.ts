import {
  formatSimulationTable,
  renderLearningCurvesSvg,
  SimulationResult,
  SimulationStrategyResult,
} from '../../src/ml/simulation-chart';

const LABEL_COUNTS = [20, 40, 80];

function strategy(code: string, means: number[], auc: number): SimulationStrategyResult {
  return {
    code,
    auc: { mean: auc, std: 0.004 },
    points: means.map((mean, i) => ({
      labels: LABEL_COUNTS[i],
      meanAccuracy: mean,
      stdAccuracy: 0.02,
      minAccuracy: mean - 0.05,
      maxAccuracy: mean + 0.03,
    })),
  };
}

const RESULT: SimulationResult = {
  labelCounts: LABEL_COUNTS,
  trainer: { code: 'logistic-regression' },
  title: 'digits',
  strategies: [
    strategy('random', [0.81, 0.86, 0.9], 0.8634),
    strategy('margin', [0.83, 0.9, 0.94], 0.8912),
    strategy('entropy', [0.82, 0.89, 0.935], 0.8851),
  ],
};

const SINGLE: SimulationResult = {
  labelCounts: [50],
  strategies: [
    {
      code: 'margin',
      auc: { mean: 0.8, std: 0 },
      points: [
        { labels: 50, meanAccuracy: 0.8, stdAccuracy: 0, minAccuracy: 0.8, maxAccuracy: 0.8 },
      ],
    },
  ],
};

/**
 * Checks that `xml` is one well-formed element tree: every tag closes in order, attribute values
 * are quoted, and text holds no raw `<` or unescaped `&`. Returns the problem, or null.
 */
function xmlProblem(xml: string): string | null {
  const open: string[] = [];
  let i = 0;
  let roots = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? xml.length : lt);
    const amp = badAmpersand(text);
    if (amp !== null) return `unescaped & in text at ${i + amp}`;
    if (text.trim() !== '' && open.length === 0) return `text outside the root at ${i}`;
    if (lt === -1) break;
    if (xml.startsWith('<?', lt) || xml.startsWith('<!--', lt)) {
      const end = xml.indexOf(xml.startsWith('<?', lt) ? '?>' : '-->', lt);
      if (end === -1) return `unterminated declaration or comment at ${lt}`;
      i = end + 2;
      continue;
    }
    let j = lt + 1;
    let quote: string | null = null;
    while (j < xml.length && (quote !== null || xml[j] !== '>')) {
      if (quote === null && xml[j] === '<') return `'<' inside the tag at ${lt}`;
      if (quote === null && (xml[j] === '"' || xml[j] === "'")) quote = xml[j];
      else if (xml[j] === quote) quote = null;
      j++;
    }
    if (j >= xml.length) return `unterminated tag at ${lt}`;
    const tag = xml.slice(lt + 1, j);
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      const expected = open.pop();
      if (name !== expected) return `</${name}> at ${lt} closes <${expected ?? 'nothing'}>`;
    } else {
      const name = tag.split(/[\s/]/, 1)[0];
      if (name === '') return `tag without a name at ${lt}`;
      if (open.length === 0 && ++roots > 1) return `second root element <${name}> at ${lt}`;
      if (!tag.endsWith('/')) open.push(name);
    }
    i = j + 1;
  }
  return open.length === 0 ? null : `unclosed <${open.join('>, <')}>`;
}

function badAmpersand(text: string): number | null {
  for (let k = text.indexOf('&'); k !== -1; k = text.indexOf('&', k + 1)) {
    if (!/^&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);/.test(text.slice(k, k + 12))) return k;
  }
  return null;
}

/** Each line mark group of the SVG, as its markup. Vega draws one group per series. */
function lineMarkGroups(svg: string): string[] {
  return svg.split('<g class="mark-line role-mark').slice(1);
}

function yAxisRange(svg: string): [number, number] {
  const match =
    /Y-axis titled 'test accuracy' for a linear scale with values from ([\d.]+) to ([\d.]+)/.exec(
      svg,
    );
  if (!match) throw new Error('the SVG has no y axis titled "test accuracy"');
  return [Number(match[1]), Number(match[2])];
}

describe('the well-formedness check of these specs', () => {
  it('finds misnested, unclosed and unescaped markup', () => {
    expect(xmlProblem('<svg><g></svg></g>')).toMatch('closes <g>');
    expect(xmlProblem('<svg><g>')).toMatch('unclosed');
    expect(xmlProblem('<svg><text>a & b</text></svg>')).toMatch('unescaped &');
    expect(xmlProblem('<svg><text>a &amp; b</text><g/></svg>')).toBeNull();
  });
});

describe('renderLearningCurvesSvg', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(console, 'warn');
  });
  afterEach(() => {
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });

  it('renders a well-formed SVG document', async () => {
    const svg = await renderLearningCurvesSvg(RESULT);

    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(xmlProblem(svg)).toBeNull();
  });

  it('names every strategy in the legend with its AUC to 3 decimals', async () => {
    const svg = await renderLearningCurvesSvg(RESULT);

    expect(svg).toContain('>random (AUC 0.863)</text>');
    expect(svg).toContain('>margin (AUC 0.891)</text>');
    expect(svg).toContain('>entropy (AUC 0.885)</text>');
  });

  it('titles the axes "labels" and "test accuracy", and shows the title and trainer', async () => {
    const svg = await renderLearningCurvesSvg(RESULT);

    expect(svg).toContain('>labels</text>');
    expect(svg).toContain('>test accuracy</text>');
    expect(svg).toContain('>digits</text>');
    expect(svg).toContain('trainer: logistic-regression');
  });

  it('draws one coloured line per strategy, each through all of its points', async () => {
    const svg = await renderLearningCurvesSvg(RESULT);

    const groups = lineMarkGroups(svg);
    expect(groups).toHaveLength(3);
    const strokes = groups.map((g) => {
      const path = /<path [^>]*d="M([^"]*)"[^>]*stroke="(#[0-9a-f]{6})"/.exec(g);
      expect(path).not.toBeNull();
      // A polyline through 3 points: a move and two line segments.
      expect(path![1].split('L')).toHaveLength(3);
      return path![2];
    });
    expect(new Set(strokes).size).toBe(3);
    expect(svg.split('<g class="mark-area role-mark')).toHaveLength(4);
  });

  it('zooms the y axis to the data instead of spanning 0 to 1', async () => {
    const [from, to] = yAxisRange(await renderLearningCurvesSvg(RESULT));

    // Bands reach 0.81 - 0.02 = 0.79 and 0.94 + 0.02 = 0.96.
    expect(from).toBeGreaterThanOrEqual(0.7);
    expect(from).toBeLessThanOrEqual(0.79);
    expect(to).toBeGreaterThanOrEqual(0.96);
    expect(to).toBeLessThanOrEqual(1);
  });

  it('widens the y axis to the minimum and maximum when asked for a min-max band', async () => {
    const [from] = yAxisRange(await renderLearningCurvesSvg(RESULT, { band: 'min-max' }));

    // The lowest minimum is 0.81 - 0.05 = 0.76.
    expect(from).toBeLessThanOrEqual(0.76);
    expect(from).toBeGreaterThanOrEqual(0.7);
  });

  it('gives the same bytes for the same input', async () => {
    const first = await renderLearningCurvesSvg(RESULT, { width: 640, height: 360 });
    await renderLearningCurvesSvg(SINGLE);
    const second = await renderLearningCurvesSvg(RESULT, { width: 640, height: 360 });

    expect(second).toBe(first);
  });

  it('sizes the SVG as asked, legend included', async () => {
    const svg = await renderLearningCurvesSvg(RESULT, { width: 640, height: 360 });

    expect(svg).toMatch(/^<svg [^>]*width="640" height="360"/);
  });

  it('lets the title option override the result title', async () => {
    const svg = await renderLearningCurvesSvg(RESULT, { title: 'Pool of 1,797 digits' });

    expect(svg).toContain('>Pool of 1,797 digits</text>');
    expect(svg).not.toContain('>digits</text>');
  });

  it('draws a single strategy with a single point', async () => {
    const svg = await renderLearningCurvesSvg(SINGLE);

    expect(xmlProblem(svg)).toBeNull();
    expect(svg).toContain('>margin (AUC 0.800)</text>');
    expect(svg).toContain('>Learning curves</text>');
    expect(svg).toContain('>50</text>');
    const [from, to] = yAxisRange(svg);
    expect(from).toBeLessThan(0.8);
    expect(to).toBeGreaterThan(0.8);
    expect(to - from).toBeGreaterThanOrEqual(0.1 - 1e-9);
  });

  it('escapes markup in strategy codes and titles', async () => {
    const svg = await renderLearningCurvesSvg(
      { ...SINGLE, strategies: [{ ...SINGLE.strategies[0], code: 'a<b & "c"' }] },
      { title: '<script>&' },
    );

    expect(xmlProblem(svg)).toBeNull();
    expect(svg).not.toContain('<script>');
  });

  it('rejects a result without strategies, naming the field', async () => {
    await expect(renderLearningCurvesSvg({ ...RESULT, strategies: [] })).rejects.toThrow(
      'result.strategies must hold at least one strategy',
    );
  });

  it('rejects a point at a label count the result does not list', async () => {
    const bad = strategy('margin', [0.8], 0.8);
    bad.points[0].labels = 25;
    await expect(renderLearningCurvesSvg({ ...RESULT, strategies: [bad] })).rejects.toThrow(
      'result.strategies[0].points[0].labels is 25, which is not in result.labelCounts [20, 40, 80]',
    );
  });

  it('rejects a non-finite accuracy, naming the point', async () => {
    const bad = strategy('margin', [0.8, Number.NaN], 0.8);
    await expect(renderLearningCurvesSvg({ ...RESULT, strategies: [bad] })).rejects.toThrow(
      'result.strategies[0].points[1].meanAccuracy must be a finite number',
    );
  });

  it('rejects a width too small to draw in', async () => {
    await expect(renderLearningCurvesSvg(RESULT, { width: 10 })).rejects.toThrow(
      'options.width must be an integer of at least 100 pixels, got 10',
    );
  });
});

describe('formatSimulationTable', () => {
  it('prints one row per strategy and one column per label count, then the AUC', () => {
    expect(formatSimulationTable(RESULT)).toBe(
      [
        'strategy |            20 |            40 |            80 |           AUC',
        '---------+---------------+---------------+---------------+--------------',
        'random   | 0.810 ± 0.020 | 0.860 ± 0.020 | 0.900 ± 0.020 | 0.863 ± 0.004',
        'margin   | 0.830 ± 0.020 | 0.900 ± 0.020 | 0.940 ± 0.020 | 0.891 ± 0.004',
        'entropy  | 0.820 ± 0.020 | 0.890 ± 0.020 | 0.935 ± 0.020 | 0.885 ± 0.004',
        '',
      ].join('\n'),
    );
  });

  it('shows a dash where a strategy has no point at a label count', () => {
    const partial = strategy('margin', [0.83, 0.9], 0.9);
    const table = formatSimulationTable({ ...RESULT, strategies: [partial] });

    expect(table.split('\n')[2]).toBe(
      'margin   | 0.830 ± 0.020 | 0.900 ± 0.020 |  - | 0.900 ± 0.004',
    );
  });

  it('prints a single strategy with a single point', () => {
    expect(formatSimulationTable(SINGLE)).toBe(
      [
        'strategy |            50 |           AUC',
        '---------+---------------+--------------',
        'margin   | 0.800 ± 0.000 | 0.800 ± 0.000',
        '',
      ].join('\n'),
    );
  });

  it('contains no terminal escape codes', () => {
    expect(formatSimulationTable(RESULT)).not.toContain('\u001b');
  });
});
