import type { DataSource } from 'typeorm';
import type { ApiKey } from '../entities';
import { Permission } from './permissions';
import { DatasetService } from './dataset.service';
import { agreementByAnnotator } from '../db/sql/slots.sql';
import { run } from '../db/sql/statement';

export interface AnnotatorAgreement {
  annotatorId: string;
  /** Answers to multi-annotator queries whose answers are all in. */
  answers: number;
  /** Of those, answers equal to the resolved (most frequent) answer. */
  agreed: number;
  /** Answers to queries that ended tied (NEEDS_REVIEW and not yet resolved). */
  tied: number;
  /** agreed / (answers − tied); null before any resolved answer. */
  rate: number | null;
}

/** How annotators agree on queries answered by several of them. */
export class AgreementService {
  constructor(
    private readonly ds: DataSource,
    private readonly datasets: DatasetService,
  ) {}

  /** How often each annotator agreed with the resolved answer of multi-annotator queries. */
  async byAnnotator(key: ApiKey, datasetId: string): Promise<AnnotatorAgreement[]> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.READ_LABELS);
    const s = agreementByAnnotator(dataset.id);
    const rows: Omit<AnnotatorAgreement, 'rate'>[] = await run(this.ds, s);
    return rows.map((r) => ({
      ...r,
      rate: r.answers - r.tied > 0 ? r.agreed / (r.answers - r.tied) : null,
    }));
  }
}
