import { QuarryClient, ViewerDocument, type ViewerQuery } from '@quarry/client';

const KEY = 'quarry.apiKey';

export type Viewer = ViewerQuery['viewer'];

/** The signed-in session: the API key lives in sessionStorage only (gone with the tab). */
export interface Session {
  client: QuarryClient;
  viewer: Viewer;
}

function clientFor(apiKey: string): QuarryClient {
  return new QuarryClient({
    url: new URL('graphql', new URL('/', location.href)).href,
    apiKey,
    // A page needs answers now, not after backing off; reads are retried once.
    retry: { retries: 1 },
  });
}

/** Checks the key with the server; on success it is kept for this tab. */
export async function signIn(apiKey: string): Promise<Session> {
  const client = clientFor(apiKey.trim());
  const { viewer } = await client.request(ViewerDocument);
  sessionStorage.setItem(KEY, apiKey.trim());
  return { client, viewer };
}

/** The session of this tab, if its key still works. */
export async function resume(): Promise<Session | null> {
  const key = sessionStorage.getItem(KEY);
  if (!key) return null;
  try {
    return await signIn(key);
  } catch {
    sessionStorage.removeItem(KEY);
    return null;
  }
}

export async function signOut(session: Session | null): Promise<void> {
  sessionStorage.removeItem(KEY);
  await session?.client.close();
}
