// Health and metrics over HTTP (EXECUTOR_HTTP_PORT; off by default):
//   /healthz  the process is alive and its event loop turning (a stuck loop cannot enforce budgets)
//   /readyz   connected to Redis and taking work; not ready while draining or recycling
//   /metrics  Prometheus text format
import http from 'node:http';
import type { Logger } from '../log.js';
import type { ExecutorMetrics } from './metrics.js';

const TICK_MS = 500;
const STALL_MS = 5000;

export interface HealthSource {
  ready: boolean;
}

export async function startHttpServer(port: number, source: HealthSource, metrics: ExecutorMetrics, log: Logger): Promise<http.Server> {
  let lastTick = Date.now();
  const ticker = setInterval(() => (lastTick = Date.now()), TICK_MS);
  ticker.unref();
  const server = http.createServer((req, res) => {
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    switch (req.url) {
      case '/healthz': {
        const stalled = Date.now() - lastTick > STALL_MS;
        return reply(stalled ? 503 : 200, stalled ? 'event loop stalled\n' : 'ok\n');
      }
      case '/readyz':
        return reply(source.ready ? 200 : 503, source.ready ? 'ready\n' : 'not ready\n');
      case '/metrics':
        return void metrics.registry.metrics().then(
          (text) => reply(200, text, metrics.registry.contentType),
          (err: Error) => reply(500, `${err.message}\n`),
        );
      default:
        return reply(404, 'not found\n');
    }
  });
  server.on('close', () => clearInterval(ticker));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve());
  });
  log.info({ port: (server.address() as { port: number }).port }, 'health and metrics listening');
  return server;
}
