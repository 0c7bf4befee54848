/** One page of a connection, as the documents of this package ask for it. */
export interface PageOf<T> {
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  nodes: T[];
}

/** The page size the `list`/`iterate` helpers ask for (the server's maximum is 1000). */
export const LIST_PAGE_SIZE = 200;

/**
 * Every node of a connection, in its order, a page at a time: `fetchPage(after)` answers the page
 * after the cursor (`null` for the first).
 *
 * @example for await (const d of paginate((after) => fetchDatasets(after))) console.log(d.name);
 */
export async function* paginate<T>(
  fetchPage: (after: string | null) => Promise<PageOf<T>>,
): AsyncGenerator<T, void, undefined> {
  let after: string | null = null;
  for (;;) {
    const page: PageOf<T> = await fetchPage(after);
    yield* page.nodes;
    if (!page.pageInfo.hasNextPage || page.pageInfo.endCursor === null) return;
    after = page.pageInfo.endCursor;
  }
}

/** Every element of an async iterable, as an array. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
