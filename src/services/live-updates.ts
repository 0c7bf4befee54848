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

/**
 * Whether `next` is behind `last` (an earlier status, or less progress in the same one): an event
 * committed before the state was read, which the state already shows.
 */
function behind(last: RoundEvent, next: RoundEvent): boolean {
  const a = STATUS_ORDER[last.status as RoundStatus] ?? 0;
  const b = STATUS_ORDER[next.status as RoundStatus] ?? 0;
  return b < a || (b === a && next.scored < last.scored);
}

function sameState(a: RoundEvent, b: RoundEvent): boolean {
  return a.status === b.status && a.scored === b.scored && a.total === b.total;
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
    const state = roundState(current);
    yield state;
    if (roundIsOver(state.status)) return;
    let last = state;
    for await (const event of events) {
      if (behind(last, event)) continue;
      // The state read may already be the newest event's: not sent twice.
      if (last === state && sameState(state, event)) continue;
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
