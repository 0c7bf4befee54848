import { DEFAULT_CONFIG, loadConfig } from '../../src/config';

describe('the edge limits configuration', () => {
  it('has safe defaults: every query and rate limit on', () => {
    const { edge } = loadConfig({});
    expect(edge).toEqual(DEFAULT_CONFIG.edge);
    for (const n of [
      edge.maxQueryDepth,
      edge.maxQueryAliases,
      edge.maxQueryTokens,
      edge.maxQueryCost,
    ])
      expect(n).toBeGreaterThan(0);
    expect(Object.values(edge.requestsPerSecond).every((n) => n > 0)).toBe(true);
    expect(edge.maxRequestBytesByRole.ANNOTATOR).toBe(1024 * 1024);
  });

  it('reads one number for every role, or ROLE=n pairs over the defaults', () => {
    expect(
      loadConfig({ QUARRY_RATE_LIMIT_REQUESTS_PER_SECOND: '0' }).edge.requestsPerSecond,
    ).toEqual({ ADMIN: 0, SERVICE: 0, ANNOTATOR: 0 });
    expect(
      loadConfig({ QUARRY_RATE_LIMIT_COST_PER_SECOND: 'ANNOTATOR=20, SERVICE=300' }).edge
        .costPerSecond,
    ).toEqual({ ...DEFAULT_CONFIG.edge.costPerSecond, ANNOTATOR: 20, SERVICE: 300 });
    expect(
      loadConfig({ QUARRY_MAX_QUERY_DEPTH: '0', QUARRY_SHUTDOWN_DRAIN_MS: '0' }).edge,
    ).toMatchObject({
      maxQueryDepth: 0,
      shutdownDrainMs: 0,
    });
  });

  it.each([
    ['QUARRY_RATE_LIMIT_REQUESTS_PER_SECOND', 'READER=5'],
    ['QUARRY_RATE_LIMIT_REQUESTS_PER_SECOND', 'ANNOTATOR=-1'],
    ['QUARRY_MAX_REQUEST_BYTES_BY_ROLE', 'lots'],
  ])('refuses %s=%j, naming the variable and the roles', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(
      `${name} must be an integer of 0 or more, or ROLE=n pairs (roles: ADMIN, SERVICE, ANNOTATOR)`,
    );
  });

  it('refuses a negative limit', () => {
    expect(() => loadConfig({ QUARRY_MAX_QUERY_COST: '-5' })).toThrow(
      'QUARRY_MAX_QUERY_COST must be an integer of 0 or more',
    );
  });

  it('lets overrides win over the environment', () => {
    const edge = { ...DEFAULT_CONFIG.edge, maxQueryAliases: 7 };
    expect(loadConfig({ QUARRY_MAX_QUERY_ALIASES: '3' }, { edge }).edge.maxQueryAliases).toBe(7);
  });
});
