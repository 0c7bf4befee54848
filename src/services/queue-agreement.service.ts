import type { DataSource } from 'typeorm';
import type { ApiKey, LabelSource } from '../entities';
import { Permission } from './permissions';
import { DatasetService } from './dataset.service';
import { activityByAnnotator, agreementByAnnotator, answersPerMinute } from '../db/sql/slots.sql';
import { currentLabelCounts } from '../db/sql/labels.sql';
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

/** What a dashboard shows of a dataset's labelling work. */
export interface LabellingStats {
  datasetId: string;
  /** Current labels by source and class. */
  classBalance: { source: LabelSource; classIndex: number; count: number }[];
  annotators: {
    annotatorId: string;
    answers: number;
    skips: number;
    secondsPerAnswer: number | null;
    lastAnswerAt: Date | null;
  }[];
  /** Answers per minute of the last hour (minutes without answers left out). */
  throughput: { minute: Date; answers: number }[];
}

/** Minutes of throughput {@link AgreementService.stats} reports. */
export const THROUGHPUT_MINUTES = 60;

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

  /** Class balance, annotators' activity and the last hour's throughput of a dataset. */
  async stats(key: ApiKey, datasetId: string): Promise<LabellingStats> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.READ_LABELS);
    const balance = currentLabelCounts(dataset.id);
    const activity = activityByAnnotator(dataset.id);
    const perMinute = answersPerMinute(dataset.id, THROUGHPUT_MINUTES);
    return {
      datasetId: dataset.id,
      classBalance: await run(this.ds, balance),
      annotators: await run(this.ds, activity),
      throughput: await run(this.ds, perMinute),
    };
  }
}
