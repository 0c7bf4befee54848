import type { GraphQLTransport } from './client.js';
import { QuarryError } from './errors.js';
import {
  CreateDatasetDocument,
  DatasetDocument,
  DatasetsDocument,
  UpdateDatasetDocument,
  type CreateDatasetInput,
  type DatasetFieldsFragment,
  type UpdateDatasetInput,
} from './gql/graphql.js';

export type Dataset = DatasetFieldsFragment;

/** `client.datasets`: create, read and change datasets. */
export class DatasetsApi {
  constructor(private readonly t: GraphQLTransport) {}

  /** Creates a dataset. `CONFLICT` when the name is taken. */
  async create(input: CreateDatasetInput): Promise<Dataset> {
    return (await this.t.request(CreateDatasetDocument, { input })).createDataset;
  }

  /** A dataset by id. `NOT_FOUND` when it does not exist or the key may not see it. */
  async get(id: string): Promise<Dataset> {
    return (await this.t.request(DatasetDocument, { id })).dataset;
  }

  /** The datasets the key may see, by name. */
  async list(): Promise<Dataset[]> {
    return (await this.t.request(DatasetsDocument)).datasets;
  }

  /** A dataset by id or, failing that, by name (`NOT_FOUND` when neither matches). */
  async find(idOrName: string): Promise<Dataset> {
    const all = await this.list();
    const found = all.find((d) => d.id === idOrName) ?? all.find((d) => d.name === idOrName);
    if (found) return found;
    throw new QuarryError({
      code: 'NOT_FOUND',
      message: `No dataset with id or name ${JSON.stringify(idOrName)} is visible to this key.`,
    });
  }

  /** Changes a dataset's settings (classes may only be appended). */
  async update(id: string, input: UpdateDatasetInput): Promise<Dataset> {
    return (await this.t.request(UpdateDatasetDocument, { id, input })).updateDataset;
  }
}
