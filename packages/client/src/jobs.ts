import type { GraphQLTransport } from './client.js';
import {
  AutoLabelDocument,
  AutoLabelRunDocument,
  QueueChangedDocument,
  RoundProgressDocument,
  SimulateDocument,
  SimulationDocument,
  StreamItemsDocument,
  SynthesizeItemsDocument,
  type AutoLabelInput,
  type AutoLabelRunFieldsFragment,
  type QueueChangedSubscription,
  type SimulateInput,
  type SimulationFieldsFragment,
  type StreamItemsMutationVariables,
  type StreamItemsMutation,
  type SynthesizeItemsMutation,
  type SynthesizeItemsMutationVariables,
} from './gql/graphql.js';
import type { RoundProgressEvent } from './rounds.js';
import { pollUntil, taskFailed, type WaitOptions } from './wait.js';

export type AutoLabelRun = AutoLabelRunFieldsFragment;
export type Simulation = SimulationFieldsFragment;
export type QueueEvent = QueueChangedSubscription['queueChanged'];

/** Where a job stands: `done` of `total` units (total is null until known). */
export interface JobProgress {
  done: number;
  total: number | null;
}

/** Options of the jobs that run on the server and report progress. */
export interface JobOptions extends WaitOptions {
  /** `'done'` (default): resolve when it SUCCEEDED; `'QUEUED'`: at once. */
  until?: 'done' | 'QUEUED';
  /** Called at each poll with the job's progress. */
  onProgress?: (progress: JobProgress) => void;
}

/** `client.jobs`: auto-labelling, simulations, synthesis and stream sampling. */
export class JobsApi {
  constructor(private readonly t: GraphQLTransport) {}

  /** Auto-labels the pool with a model; resolves with the finished run (`TASK_FAILED` if it fails). */
  async autoLabel(input: AutoLabelInput, opts: JobOptions = {}): Promise<AutoLabelRun> {
    const { autoLabel } = await this.t.request(
      AutoLabelDocument,
      { input },
      { signal: opts.signal },
    );
    if (opts.until === 'QUEUED') return autoLabel;
    return this.#wait(`Auto-label run ${autoLabel.id}`, opts, async () => {
      return (await this.t.request(AutoLabelRunDocument, { id: autoLabel.id })).autoLabelRun;
    });
  }

  /** Runs whole simulated active-learning loops; resolves with the finished simulation and its curves. */
  async simulate(input: SimulateInput, opts: JobOptions = {}): Promise<Simulation> {
    const { simulate } = await this.t.request(SimulateDocument, { input }, { signal: opts.signal });
    if (opts.until === 'QUEUED') return simulate;
    return this.#wait(`Simulation ${simulate.id}`, opts, async () => {
      return (await this.t.request(SimulationDocument, { id: simulate.id })).simulation;
    });
  }

  /** Makes `count` synthetic items and queues them for labels (one call, no waiting). */
  async synthesizeItems(
    variables: SynthesizeItemsMutationVariables,
  ): Promise<SynthesizeItemsMutation['synthesizeItems']> {
    return (await this.t.request(SynthesizeItemsDocument, variables)).synthesizeItems;
  }

  /** Decides arriving items with a stream policy: queried, auto-labelled or deferred. */
  async streamItems(
    variables: StreamItemsMutationVariables,
  ): Promise<StreamItemsMutation['streamItems']> {
    return (await this.t.request(StreamItemsDocument, variables)).streamItems;
  }

  async #wait<
    T extends {
      status: string;
      error?: string | null;
      progressDone: number;
      progressTotal?: number | null;
    },
  >(what: string, opts: JobOptions, read: () => Promise<T>): Promise<T> {
    const job = await pollUntil(
      async () => {
        const state = await read();
        opts.onProgress?.({ done: state.progressDone, total: state.progressTotal ?? null });
        return state;
      },
      (s) => s.status === 'SUCCEEDED' || s.status === 'FAILED',
      { ...opts, pollIntervalMs: opts.pollIntervalMs ?? this.t.pollIntervalMs, what },
    );
    if (job.status !== 'SUCCEEDED') throw taskFailed(what, job.status, job.error);
    return job;
  }
}

/** `client.subscribe`: live events as async iterators (leave the loop to unsubscribe). */
export class SubscriptionsApi {
  constructor(private readonly t: GraphQLTransport) {}

  /** Changes to a dataset's label queue, in commit order. */
  async *queue(datasetId: string): AsyncGenerator<QueueEvent> {
    for await (const { queueChanged } of this.t.subscription(QueueChangedDocument, { datasetId })) {
      yield queueChanged;
    }
  }

  /** A round's status and progress events. */
  async *round(roundId: string): AsyncGenerator<RoundProgressEvent> {
    for await (const { roundProgress } of this.t.subscription(RoundProgressDocument, { roundId })) {
      yield roundProgress;
    }
  }
}
