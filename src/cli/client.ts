/** A small GraphQL-over-HTTP client for the CLI's commands. */
export class GraphQLClientError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly extensions?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  /** The GraphQL endpoint, e.g. http://localhost:4000/graphql */
  url: string;
  apiKey?: string;
}

export class QuarryClient {
  constructor(private readonly opts: ClientOptions) {}

  get baseUrl(): string {
    return this.opts.url.replace(/\/graphql\/?$/, '');
  }

  headers(): Record<string, string> {
    const h: Record<string, string> = { 'content-type': 'application/json' };
    if (this.opts.apiKey) h.authorization = `Bearer ${this.opts.apiKey}`;
    return h;
  }

  async request<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.opts.url, {
        method: 'POST',
        headers: this.headers(),
        body: JSON.stringify({ query, variables }),
      });
    } catch (e) {
      throw new GraphQLClientError(
        `Cannot reach Quarry at ${this.opts.url}: ${(e as Error).message}. Is the server running (npm start)?`,
      );
    }
    const text = await res.text();
    let body: { data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] };
    try {
      body = JSON.parse(text);
    } catch {
      throw new GraphQLClientError(
        `Unexpected answer from ${this.opts.url} (HTTP ${res.status}): ${text.slice(0, 200)}`,
      );
    }
    if (body.errors && body.errors.length > 0) {
      const [first] = body.errors;
      throw new GraphQLClientError(
        first.message,
        first.extensions?.code as string | undefined,
        first.extensions,
      );
    }
    return body.data as T;
  }

  /** A dataset's id, given its id or its name. */
  async resolveDataset(
    idOrName: string,
  ): Promise<{ id: string; name: string; featureDim: number; classes: string[] }> {
    const data = await this.request<{
      datasets: { id: string; name: string; featureDim: number; classes: string[] }[];
    }>('query { datasets { id name featureDim classes } }');
    const found =
      data.datasets.find((d) => d.id === idOrName) ??
      data.datasets.find((d) => d.name === idOrName);
    if (!found)
      throw new GraphQLClientError(
        `No dataset with id or name ${JSON.stringify(idOrName)} is visible to this key.`,
      );
    return found;
  }
}
