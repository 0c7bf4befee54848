/**
 * Starts reading the next item of `source` as soon as one is handed out, so that the database
 * streams the next chunk while this one is scored.
 */
export async function* readAhead<T>(source: AsyncGenerator<T>): AsyncGenerator<T> {
  let next = source.next();
  try {
    for (;;) {
      const r = await next;
      if (r.done) return;
      next = source.next();
      // The read runs while the consumer works; a failure must not be an unhandled rejection
      // (it would end the process). `await next` above still sees it.
      next.catch(() => undefined);
      yield r.value;
    }
  } finally {
    await next.catch(() => undefined);
    await source.return(undefined);
  }
}
