import { RoundStatus, type Round } from '../entities';
import type { QueueCounts, QueueEvent, RoundEvent } from './event-bus';
import { QueueEventKind } from './event-bus';

/** The order a round's progress moves in; the last four end it. */
const PROGRESS_ORDER: Record<RoundStatus, number> = {
  [RoundStatus.QUEUED]: 0,
  [RoundStatus.SCORING]: 1,
  [RoundStatus.SELECTING]: 2,
  [RoundStatus.OPEN]: 3,
  [RoundStatus.CLOSED]: 3,
  [RoundStatus.FAILED]: 3,
  [RoundStatus.CANCELLED]: 3,
};

/** Whether a round's progress is over: it opened (its queries are out), or it ended. */
export function progressIsOver(status: string): boolean {
  return PROGRESS_ORDER[status as RoundStatus] === 3;
}

/** A round's current state as a progress event. */
export function roundState(round: Round): RoundEvent {
  return {
    type: 'round',
    roundId: round.id,
    datasetId: round.datasetId,
    status: round.status,
    scored: round.itemsScored,
    total: round.itemsTotal,
    error: round.error,
    at: new Date().toISOString(),
  };
}

/** Whether `next` is news after `last`: a later status, or more progress in the same one. */
function advances(last: RoundEvent, next: RoundEvent): boolean {
  const a = PROGRESS_ORDER[last.status as RoundStatus] ?? 0;
  const b = PROGRESS_ORDER[next.status as RoundStatus] ?? 0;
  if (b !== a) return b > a;
  if (a === 3) return next.status !== last.status;
  return next.status !== last.status || next.scored > last.scored;
}

/**
 * `roundProgress`: the round's state as read when the subscription started, then every change
 * after it, ending once the round's progress is over (OPEN, CLOSED, FAILED or CANCELLED). The
 * events were being listened to before the state was read, so nothing in between is missed;
 * what the read already showed is not sent twice.
 */
export async function* roundProgressStream(
  events: AsyncIterableIterator<RoundEvent>,
  current: Round,
): AsyncGenerator<RoundEvent> {
  try {
    let last = roundState(current);
    yield last;
    if (progressIsOver(last.status)) return;
    for await (const event of events) {
      if (!advances(last, event)) continue;
      last = event;
      yield event;
      if (progressIsOver(event.status)) return;
    }
  } finally {
    await events.return?.();
  }
}

/**
 * `queueChanged(snapshot: true)`: a SNAPSHOT event with the queue's counts as read after listening
 * started, then every change. Changes committed between the start of listening and the read are
 * both in the counts and among the events that follow.
 */
export async function* queueStreamWithSnapshot(
  events: AsyncIterableIterator<QueueEvent>,
  datasetId: string,
  counts: QueueCounts,
): AsyncGenerator<QueueEvent> {
  try {
    yield {
      type: 'queue',
      kind: QueueEventKind.SNAPSHOT,
      datasetId,
      roundId: null,
      queryIds: [],
      counts,
      at: new Date().toISOString(),
    };
    for await (const event of events) yield event;
  } finally {
    await events.return?.();
  }
}
