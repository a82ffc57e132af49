import { createServer, type Server } from 'node:http';
import type { Metrics } from './metrics.ts';

/**
 * The metrics listener: `GET /metrics` answers the Prometheus text exposition of `metrics`; every
 * other request gets 404. It runs on its own port (METRICS_PORT, bound to METRICS_HOST), never on
 * the public one, so the internals it shows stay off the internet.
 * @returns the listening server (close it on shutdown).
 * @throws the listen error (e.g. EADDRINUSE) through the returned promise.
 */
export function startMetricsServer(metrics: Metrics, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.exposition().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
