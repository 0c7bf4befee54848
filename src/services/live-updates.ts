import { RoundStatus, type Round } from '../entities';
import type { QueueCounts, QueueEvent, RoundEvent } from './event-bus';
import { QueueEventKind } from './event-bus';

/** The order a round's status moves in; the last three end it. */
const STATUS_ORDER: Record<RoundStatus, number> = {
  [RoundStatus.QUEUED]: 0,
  [RoundStatus.SCORING]: 1,
  [RoundStatus.SELECTING]: 2,
  [RoundStatus.OPEN]: 3,
  [RoundStatus.CLOSED]: 4,
  [RoundStatus.FAILED]: 4,
  [RoundStatus.CANCELLED]: 4,
};

/** Whether a round is over: CLOSED, FAILED or CANCELLED (an OPEN round may still be cancelled). */
export function roundIsOver(status: string): boolean {
  return STATUS_ORDER[status as RoundStatus] === 4;
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
  const a = STATUS_ORDER[last.status as RoundStatus] ?? 0;
  const b = STATUS_ORDER[next.status as RoundStatus] ?? 0;
  if (b !== a) return b > a;
  return next.scored > last.scored;
}

/**
 * `roundProgress`: the round's state as read when the subscription started, then every change
 * after it, ending once the round is over (CLOSED, FAILED or CANCELLED). The
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
    if (roundIsOver(last.status)) return;
    for await (const event of events) {
      if (!advances(last, event)) continue;
      last = event;
      yield event;
      if (roundIsOver(event.status)) return;
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
