import { LearningCurveDocument } from '@quarry/client';
import type { CliClient } from '../options';
import { out } from '../output';

/**
 * `quarry learning-curve`: the model versions with how each was made (trainer and options), their
 * label counts, metrics and the stopping signal's kappa against the version before.
 */
export async function learningCurveCommand(client: CliClient, datasetId: string) {
  const { learningCurve } = await client.sdk.request(LearningCurveDocument, { datasetId });
  const rows: string[][] = [
    ['version', 'name', 'made by', 'labels', 'accuracy', 'macro-F1', 'log-loss', 'ECE', 'kappa'],
    ...learningCurve.map((p) => [
      String(p.model.version),
      p.model.name,
      p.madeBy,
      String(p.humanLabels),
      ...(p.metrics
        ? [
            p.metrics.accuracy,
            p.metrics.macroF1,
            p.metrics.logLoss,
            p.metrics.expectedCalibrationError,
          ].map((x) => x.toFixed(3))
        : ['-', '-', '-', '-']),
      p.stopping?.kappa != null
        ? `${p.stopping.kappa.toFixed(3)}${p.stopping.stabilised ? ' stabilised' : ''}`
        : '-',
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows)
    out(
      r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
    );
}
