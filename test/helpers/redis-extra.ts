// Redis servers of a test's own: a persistent one that can be restarted in place, and a
// three-node cluster on loopback ports.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, startPrivateRedis, type PrivateRedis } from '../../dev/redis-server.js';

/** A redis-server with an fsync-always AOF, so a restart keeps every stream and group. */
export async function persistentRedis(): Promise<{ url: string; restart(): Promise<void>; stop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-aof-'));
  const args = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
  let server = await startPrivateRedis({ args });
  const port = server.port;
  return {
    url: server.url,
    async restart() {
      await server.stop();
      server = await startPrivateRedis({ args, port });
    },
    async stop() {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Three masters (no replicas) on loopback, slots spread by `redis-cli --cluster create`. */
export async function redisCluster(): Promise<{ nodes: string; stop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-cluster-'));
  const servers: PrivateRedis[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const nodeDir = path.join(dir, String(i));
    fs.mkdirSync(nodeDir);
    servers.push(await startPrivateRedis({ port, dir: nodeDir, args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'] }));
  }
  const nodes = servers.map((s) => `127.0.0.1:${s.port}`);
  execFileSync('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore', timeout: 30_000 });
  // Bounded wait until every node agrees the cluster is up.
  const deadline = Date.now() + 20_000;
  for (const s of servers) {
    while (!execFileSync('redis-cli', ['-p', String(s.port), 'cluster', 'info']).toString().includes('cluster_state:ok')) {
      if (Date.now() > deadline) throw new Error('the cluster did not come up');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    nodes: nodes.join(','),
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
