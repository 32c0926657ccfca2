// EXECUTOR_KEY_PREFIX: every key the daemon writes sits under it, so agent types sharing one Redis
// (database 0 of a cluster) are kept apart by key patterns and ACLs. With a hash tag in the
// prefix, a task's keys still share one slot: the answer stays atomic on Redis Cluster.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ExecutorClient } from '../../src/client/client.js';
import { answeredKey, claimKey, resultsKey } from '../../src/protocol/keys.js';
import { credentialsOf } from '../../src/config/redis.js';
import { BIN, DaemonProcess, daemonEnv } from '../helpers/daemon.js';
import { connect, needsRoot, redisUrl, sandboxUid, unique, waitFor } from '../helpers/env.js';
import { redisCluster } from '../helpers/redis-extra.js';
import { exitResult, readUntilExit } from '../helpers/results.js';

const redis: Redis = connect();
const daemons: DaemonProcess[] = [];
const UID = sandboxUid(16);
const run = promisify(execFile);

afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()));
});
afterAll(async () => {
  await redis.quit();
});

function startDaemon(target: Record<string, string>, stream: string, prefix: string): DaemonProcess {
  const d = new DaemonProcess(daemonEnv({ stream, uid: UID, redis: target }, { EXECUTOR_KEY_PREFIX: prefix, EXECUTOR_BLOCK_MS: '300' }));
  daemons.push(d);
  return d;
}

describe('key names under a prefix', () => {
  it('keeps the default names exactly as before', () => {
    expect(resultsKey('t1')).toBe('executor:results:t1');
    expect(answeredKey('t1')).toBe('{executor:results:t1}:answered');
    expect(claimKey('t1')).toBe('{executor:results:t1}:claim');
  });

  it('puts every key of a task in the prefix hash tag slot when it has one', () => {
    expect(resultsKey('t1', 'executor:{web}:')).toBe('executor:{web}:results:t1');
    expect(answeredKey('t1', 'executor:{web}:')).toBe('executor:{web}:answered:t1');
    expect(claimKey('t1', 'executor:{web}:')).toBe('executor:{web}:claim:t1');
    expect(answeredKey('t1', 'web:')).toBe('{web:results:t1}:answered');
  });

  it('takes a cluster node\'s user, password and TLS from the URL', () => {
    expect(credentialsOf('rediss://exec:p%40ss@redis.example:6380/0')).toEqual({ username: 'exec', password: 'p@ss', tls: {} });
    expect(credentialsOf('redis://:only-password@h:1')).toEqual({ password: 'only-password' });
    expect(credentialsOf('redis://127.0.0.1:6379')).toEqual({});
  });

  it('a client refuses a prefix that would split a task over slots', () => {
    expect(() => new ExecutorClient({ redis: redisUrl(), keyPrefix: 'a}b{' })).toThrow(/hash tag/);
  });
});

describe.skipIf(needsRoot.skip)(`EXECUTOR_KEY_PREFIX ${needsRoot.reason}`, () => {
  it('writes results, the answer and dead letters under the prefix, and nothing under executor:', async () => {
    const prefix = `executor:{${unique('kp')}}:`;
    const stream = `${prefix}tasks`;
    const d = startDaemon({ REDIS_URL: redisUrl() }, stream, prefix);
    await d.waitForLog('executor started');
    const client = new ExecutorClient({ redis: redisUrl(), stream, keyPrefix: prefix });
    try {
      const s = await client.submit({ runtime: 'bash', code: 'echo prefixed' });
      expect((await s.result).status).toBe('ok');
      expect(await redis.exists(resultsKey(s.id, prefix), answeredKey(s.id, prefix))).toBe(2);
      expect(await redis.exists(resultsKey(s.id), answeredKey(s.id))).toBe(0);
      // A message nobody can answer goes to <prefix>dead.
      await redis.xadd(stream, '*', 'nottask', 'x');
      await waitFor('the dead letter', async () => ((await redis.xlen(`${prefix}dead`)) === 1 ? true : undefined));
    } finally {
      await client.close();
    }
  });

  it('agent-executor submit follows results under --key-prefix (and EXECUTOR_KEY_PREFIX)', async () => {
    const prefix = `executor:{${unique('kp')}}:`;
    const stream = `${prefix}tasks`;
    const d = startDaemon({ REDIS_URL: redisUrl() }, stream, prefix);
    await d.waitForLog('executor started');
    const env = { ...process.env, REDIS_URL: redisUrl(), EXECUTOR_STREAM: stream };
    const flag = await run(process.execPath, [BIN, 'submit', '-r', 'bash', '-e', 'echo via-flag', '--key-prefix', prefix], { env, timeout: 30_000 });
    expect(flag.stdout).toBe('via-flag\n');
    const viaEnv = await run(process.execPath, [BIN, 'submit', '-r', 'bash', '-e', 'echo via-env'], { env: { ...env, EXECUTOR_KEY_PREFIX: prefix }, timeout: 30_000 });
    expect(viaEnv.stdout).toBe('via-env\n');
  });

  it('answers on a Redis Cluster with a hash-tagged prefix (one slot per task, no CROSSSLOT), as an ACL user named in the URL', async () => {
    const cluster = await redisCluster();
    const nodes = cluster.nodes.split(',').map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) }));
    // Only the ACL user may do anything: the daemon must take its user and password from the URL.
    for (const node of nodes) {
      const admin = new Redis(node.port, '127.0.0.1');
      await admin.call('ACL', 'SETUSER', 'exec', 'on', '>s3cret:pw', '~*', '&*', '+@all');
      await admin.call('ACL', 'SETUSER', 'default', 'on', 'nopass', '-@all', '+auth', '+hello');
      await admin.quit();
    }
    const c = new Cluster(nodes, { redisOptions: { username: 'exec', password: 's3cret:pw' } });
    try {
      const prefix = `executor:{${unique('kp')}}:`;
      const stream = `${prefix}tasks`;
      const d = startDaemon({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_URL: 'redis://exec:s3cret%3Apw@127.0.0.1:1' }, stream, prefix);
      await d.waitForLog('executor started');
      const id = unique('clustered');
      await c.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'bash', code: 'echo on-cluster' }));
      const entries = await readUntilExit(c as unknown as Redis, id, 30_000, prefix);
      expect(exitResult(entries).status).toBe('ok');
      expect(await c.exists(answeredKey(id, prefix))).toBe(1);
    } finally {
      c.disconnect();
      await cluster.stop();
    }
  }, 90_000);
});
