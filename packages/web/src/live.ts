import {
  QueueChangedDocument,
  RoundProgressDocument,
  type QuarryClient,
  type QueueChangedSubscription,
  type RoundProgressSubscription,
} from '@quarry/client';

export type QueueEvent = QueueChangedSubscription['queueChanged'];
export type RoundEvent = RoundProgressSubscription['roundProgress'];

/**
 * Runs a subscription until the returned function is called, handing each event to `onEvent`;
 * a dropped connection is retried (1 s, 2 s, ... up to 15 s), and `onGap` is told, since events
 * may have been missed meanwhile.
 */
function follow<T>(
  open: () => AsyncIterableIterator<T>,
  onEvent: (e: T) => void,
  onGap?: () => void,
): () => void {
  let stopped = false;
  let it: AsyncIterableIterator<T> | undefined;
  let delay = 1000;
  const loop = async () => {
    while (!stopped) {
      try {
        it = open();
        for (;;) {
          const step = await it.next();
          if (step.done || stopped) break;
          delay = 1000;
          onEvent(step.value);
        }
      } catch {
        // Reconnect below.
      }
      if (stopped) return;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(15_000, delay * 2);
      onGap?.();
    }
  };
  void loop();
  return () => {
    stopped = true;
    void it?.return?.();
  };
}

/** Follows a dataset's queue events. */
export function followQueue(
  client: QuarryClient,
  datasetId: string,
  onEvent: (e: QueueEvent) => void,
  onGap?: () => void,
): () => void {
  return follow(
    () => mapIter(client.subscription(QueueChangedDocument, { datasetId }), (d) => d.queueChanged),
    onEvent,
    onGap,
  );
}

/** Follows one round's progress events. */
export function followRound(
  client: QuarryClient,
  roundId: string,
  onEvent: (e: RoundEvent) => void,
): () => void {
  return follow(
    () => mapIter(client.subscription(RoundProgressDocument, { roundId }), (d) => d.roundProgress),
    onEvent,
  );
}

function mapIter<A, B>(it: AsyncIterableIterator<A>, f: (a: A) => B): AsyncIterableIterator<B> {
  return {
    next: async () => {
      const step = await it.next();
      return step.done ? { done: true, value: undefined } : { done: false, value: f(step.value) };
    },
    return: async () => {
      await it.return?.();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * Calls `f` at most once per `ms`: the first call schedules `f` `ms` later and the calls until
 * then join it (f reads the current state, so one run serves them all). Unlike a debounce, a
 * steady stream of calls (a busy queue's events) cannot put `f` off for as long as it lasts.
 */
export function throttle(f: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      f();
    }, ms);
  };
}
