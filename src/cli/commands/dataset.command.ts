import { clientFrom } from '../options';
import { err, out } from '../output';

/** `quarry dataset create`: prints the new dataset's id. */
export async function datasetCreate(opts: {
  name: string;
  classes: string[];
  featureDim: number;
  description?: string;
  budget?: number;
  url?: string;
  apiKey?: string;
}): Promise<void> {
  const dataset = await clientFrom(opts).sdk.datasets.create({
    name: opts.name,
    classes: opts.classes,
    featureDim: opts.featureDim,
    description: opts.description,
    labelBudget: opts.budget,
  });
  err(`Created dataset ${JSON.stringify(dataset.name)}:`);
  out(dataset.id);
}

/** `quarry dataset list`: one line per dataset. */
export async function datasetList(opts: { url?: string; apiKey?: string }): Promise<void> {
  for (const d of await clientFrom(opts).sdk.datasets.list()) {
    out(
      `${d.id}  ${d.name}  dim=${d.featureDim}  classes=${d.classes.length}${d.labelBudget !== null ? `  budget=${d.labelBudget}` : ''}`,
    );
  }
}
