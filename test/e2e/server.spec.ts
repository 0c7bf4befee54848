import { codeOf, describeEachDb } from '../helpers/server';

describeEachDb(
  'the HTTP server',
  (t) => {
    it('answers liveness and readiness', async () => {
      const base = t().url.replace(/\/graphql$/, '');
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', database: t().backend });
    });

    it('masks unexpected errors: no SQL, no stack, code INTERNAL_SERVER_ERROR', async () => {
      const services = t().server.services;
      const original = services.datasets.list;
      services.datasets.list = async () => {
        throw new Error('relation "secret_table" does not exist: SELECT * FROM secret_table');
      };
      try {
        const res = await t().gql('{ datasets { id } }');
        expect(codeOf(res)).toBe('INTERNAL_SERVER_ERROR');
        expect(JSON.stringify(res)).not.toContain('secret_table');
        expect(JSON.stringify(res)).not.toMatch(/stacktrace|at .*\.js/);
      } finally {
        services.datasets.list = original;
      }
    });

    it('refuses a request body over the limit with PAYLOAD_TOO_LARGE', async () => {
      const res = await fetch(t().url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t().adminKey}` },
        body: JSON.stringify({
          query: '{ datasets { id } }',
          variables: { pad: 'x'.repeat(400_000) },
        }),
      });
      expect(res.status).toBe(413);
      const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    });

    it('allows browser-based labelling tools on other origins (CORS)', async () => {
      const res = await fetch(t().url, {
        method: 'OPTIONS',
        headers: {
          origin: 'http://labeller.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });
      expect(res.status).toBeLessThan(300);
      expect(res.headers.get('access-control-allow-origin')).toBeTruthy();
    });
  },
  { maxRequestBytes: 300_000, maxModelBytes: 200_000 },
);
