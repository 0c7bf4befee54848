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
  const client = clientFrom(opts);
  const data = await client.request(
    `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id name } }`,
    {
      input: {
        name: opts.name,
        classes: opts.classes,
        featureDim: opts.featureDim,
        description: opts.description,
        labelBudget: opts.budget,
      },
    },
  );
  err(`Created dataset ${JSON.stringify(data.createDataset.name)}:`);
  out(data.createDataset.id);
}

/** `quarry dataset list`: one line per dataset. */
export async function datasetList(opts: { url?: string; apiKey?: string }): Promise<void> {
  const data = await clientFrom(opts).request(
    'query { datasets { id name featureDim classes labelBudget } }',
  );
  for (const d of data.datasets) {
    out(
      `${d.id}  ${d.name}  dim=${d.featureDim}  classes=${d.classes.length}${d.labelBudget !== null ? `  budget=${d.labelBudget}` : ''}`,
    );
  }
}
