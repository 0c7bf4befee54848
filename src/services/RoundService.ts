import type { DataSource } from 'typeorm';
import { ApiKey, LabelQuery, Round } from '../entities';
import { NotFoundError } from '../errors';
import { Permission } from '../auth/permissions';
import { DatasetService } from './DatasetService';
import { isUuid } from './db-errors';

/** Rounds and their queries, as read by clients. (Starting rounds arrives with strategies.) */
export class RoundService {
  constructor(
    private readonly ds: DataSource,
    private readonly datasets: DatasetService,
  ) {}

  async list(key: ApiKey, datasetId: string): Promise<Round[]> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.READ_DATASET);
    return this.ds
      .getRepository(Round)
      .find({ where: { datasetId: dataset.id }, order: { createdAt: 'DESC' } });
  }

  async get(key: ApiKey, id: string): Promise<Round> {
    const round = isUuid(id) ? await this.ds.getRepository(Round).findOneBy({ id }) : null;
    if (!round) throw new NotFoundError('Round', id);
    await this.datasets.getAuthorized(key, round.datasetId, Permission.READ_DATASET);
    return round;
  }

  /** A round's queries by rank, for DataLoader. */
  async queriesByRoundIds(roundIds: readonly string[]): Promise<LabelQuery[][]> {
    const rows = await this.ds
      .getRepository(LabelQuery)
      .createQueryBuilder('q')
      .where('q.roundId = ANY(:ids)', { ids: roundIds })
      .orderBy('q.rank', 'ASC')
      .getMany();
    const byRound = new Map<string, LabelQuery[]>(roundIds.map((id) => [id, []]));
    for (const q of rows) byRound.get(q.roundId)?.push(q);
    return roundIds.map((id) => byRound.get(id)!);
  }
}
