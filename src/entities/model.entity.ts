import { Column, Entity, Index } from 'typeorm';
import { UuidIdColumn, CreatedAtColumn, UuidRefColumn } from './columns';
import { DatasetOwned } from './dataset-owned';
import { ModelOutputKind } from './enums';

/** A registered ONNX model version of a dataset. */
@Entity({ name: 'model' })
@Index('uq_model_dataset_version', ['datasetId', 'version'], { unique: true })
export class Model extends DatasetOwned {
  @UuidIdColumn()
  id: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  /** 1, 2, 3... per dataset, in registration order. */
  @Column({ type: 'integer' })
  version: number;

  @Column({ type: 'bytea' })
  onnx: Buffer;

  @Column({ name: 'size_bytes', type: 'integer' })
  sizeBytes: number;

  @Column({ type: 'char', length: 64 })
  sha256: string;

  @Column({ name: 'input_name', type: 'varchar', length: 200 })
  inputName: string;

  /** The output that gives class scores, as probabilities or logits ({@link outputKind}). */
  @Column({ name: 'output_name', type: 'varchar', length: 200 })
  outputName: string;

  @Column({
    name: 'output_kind',
    type: 'enum',
    enum: ModelOutputKind,
    enumName: 'model_output_kind',
  })
  outputKind: ModelOutputKind;

  @Column({ name: 'embedding_output_name', type: 'varchar', length: 200, nullable: true })
  embeddingOutputName: string | null;

  @Column({ name: 'embedding_dim', type: 'integer', nullable: true })
  embeddingDim: number | null;

  /**
   * Metrics on the dataset's labelled VALIDATION items when the model was registered (null when
   * there were none): accuracy, macro-F1, per-class precision/recall, log-loss, ECE.
   */
  @Column({ type: 'jsonb', nullable: true })
  metrics: Record<string, unknown> | null;

  /**
   * Labels made by people (HUMAN and IMPORT) the model was trained on (trained models), or that
   * the dataset's pool had when it was uploaded.
   */
  @Column({ name: 'human_labels', type: 'integer', default: 0 })
  humanLabels: number;

  /**
   * The temperature its probabilities are scaled by everywhere they are used (predictions,
   * confidences, thresholds, audits): fitted on the VALIDATION labels at registration, 1 when
   * there were too few.
   */
  @Column({ type: 'double precision', default: 1 })
  temperature: number;

  /**
   * Its predictions on the dataset's stop set and the stopping signal after it (see
   * `src/services/stopping.ts`); null when the dataset had no stop set.
   */
  @Column({ type: 'jsonb', nullable: true })
  stopping: Record<string, unknown> | null;

  /** For models Quarry trained: trainer, options, seed, labels used, time taken. */
  @Column({ type: 'jsonb', nullable: true })
  training: Record<string, unknown> | null;

  /** The API key that registered it. */
  @UuidRefColumn('created_by', true)
  createdBy: string | null;

  @CreatedAtColumn()
  createdAt: Date;
}
