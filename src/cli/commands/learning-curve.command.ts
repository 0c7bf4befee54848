import { LearningCurveDocument } from '@quarry/client';
import type { CliClient } from '../options';
import { out } from '../output';

/** `quarry learning-curve`: the model versions with their label counts and metrics. */
export async function learningCurveCommand(client: CliClient, datasetId: string) {
  const { learningCurve } = await client.sdk.request(LearningCurveDocument, { datasetId });
  const rows: string[][] = [
    ['version', 'name', 'labels', 'accuracy', 'macro-F1', 'log-loss', 'ECE'],
    ...learningCurve.map((p) => [
      String(p.model.version),
      p.model.name,
      String(p.humanLabels),
      ...(p.metrics
        ? [
            p.metrics.accuracy,
            p.metrics.macroF1,
            p.metrics.logLoss,
            p.metrics.expectedCalibrationError,
          ].map((x) => x.toFixed(3))
        : ['-', '-', '-', '-']),
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
