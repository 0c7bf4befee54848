import type { GraphQLTransport } from './client.js';
import { QuarryError } from './errors.js';
import { collect, LIST_PAGE_SIZE, paginate, type PageOf } from './pages.js';
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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

  /** One page of the datasets the key may see, by name (`first`: 0 to 1000, default 50). */
  async page(first?: number, after?: string | null): Promise<PageOf<Dataset>> {
    return (await this.t.request(DatasetsDocument, { first, after })).datasets;
  }

  /** Every dataset the key may see, by name, fetched a page at a time as you iterate. */
  iterate(pageSize = LIST_PAGE_SIZE): AsyncGenerator<Dataset, void, undefined> {
    return paginate((after) => this.page(pageSize, after));
  }

  /** Every dataset the key may see, by name (all pages). */
  async list(): Promise<Dataset[]> {
    return collect(this.iterate());
  }

  /** A dataset by id or, failing that, by name (`NOT_FOUND` when neither matches). */
  async find(idOrName: string): Promise<Dataset> {
    if (UUID.test(idOrName)) {
      try {
        return await this.get(idOrName);
      } catch (e) {
        if (!(e instanceof QuarryError && (e.code === 'NOT_FOUND' || e.code === 'FORBIDDEN')))
          throw e;
      }
    }
    // Names are unique: the first page holding it ends the search.
    for await (const d of this.iterate()) if (d.name === idOrName) return d;
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
