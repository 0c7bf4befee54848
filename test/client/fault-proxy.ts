import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does with one request, given its body and how many matched before. */
export type Fault =
  /** Forward it and answer as the server did. */
  | 'pass'
  /** Forward it, let the server finish (commit), then cut the connection without answering. */
  | 'drop-response'
  /** Do not forward it; answer 503 SERVICE_OVERLOADED with `Retry-After`. */
  | { overloaded: { retryAfterSeconds: number } };

export interface FaultProxy {
  url: string;
  /** Requests the proxy cut after the server answered them. */
  dropped: number;
  /** Requests refused as overloaded without reaching the server. */
  refused: number;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of a Quarry server that injects the failures a client must survive:
 * lost answers to work the server did, and overload refusals.
 */
export async function startFaultProxy(
  target: string,
  decide: (body: string) => Fault,
): Promise<FaultProxy> {
  const upstream = new URL(target);
  const proxy: FaultProxy = { url: '', dropped: 0, refused: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const fault = decide(body.toString('utf8'));
      if (typeof fault === 'object') {
        proxy.refused++;
        res.writeHead(503, {
          'content-type': 'application/json',
          'retry-after': String(fault.overloaded.retryAfterSeconds),
        });
        res.end(
          JSON.stringify({
            errors: [{ message: 'injected overload', extensions: { code: 'SERVICE_OVERLOADED' } }],
          }),
        );
        return;
      }
      const headers = {
        ...req.headers,
        host: upstream.host,
        'content-length': String(body.length),
      };
      const out = http.request(
        {
          // A fresh connection per request: a kept-alive one the server closes meanwhile would
          // fail a request the test did not mean to fail.
          agent: false,
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers,
        },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (c: Buffer) => parts.push(c));
          answer.on('end', () => {
            if (fault === 'drop-response') {
              proxy.dropped++;
              req.socket.destroy();
              return;
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(parts));
          });
        },
      );
      out.on('error', () => req.socket.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  proxy.url = `http://127.0.0.1:${port}${upstream.pathname}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
