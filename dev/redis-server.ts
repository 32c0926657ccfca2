// A private, throwaway redis-server on a free loopback port, for the demo, the tests and the
// benchmark. Nothing is persisted; stop() ends it.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';

export interface PrivateRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

export interface PrivateRedisOptions {
  /** Extra redis-server arguments (persistence, cluster mode...). */
  args?: string[];
  /** Working directory (where persistence files go). */
  dir?: string;
  /** A fixed port (to restart a server where it was); a free one by default. */
  port?: number;
}

export async function startPrivateRedis(opts: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const port = opts.port ?? (await freePort());
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', ...(opts.args ?? [])],
    { stdio: ['ignore', 'ignore', 'pipe'], ...(opts.dir ? { cwd: opts.dir } : {}) },
  );
  const failed = new Promise<never>((_, reject) => {
    server.once('error', (err) =>
      reject(new Error(`cannot start redis-server (is it installed? apt-get install redis-server): ${err.message}`)),
    );
    server.once('exit', (code) => reject(new Error(`redis-server exited with code ${code} before it was ready`)));
  });
  failed.catch(() => undefined);
  const url = `redis://127.0.0.1:${port}`;
  await Promise.race([waitForPing(url), failed]);
  return {
    url,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (server.exitCode !== null) return resolve();
        server.once('exit', () => resolve());
        server.kill('SIGTERM');
      }),
  };
}

async function waitForPing(url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      await redis.ping();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`redis-server on ${url} not ready after ${READY_TIMEOUT_MS} ms`, { cause: err });
      await new Promise((r) => setTimeout(r, 25));
    } finally {
      redis.disconnect();
    }
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
