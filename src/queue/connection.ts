// Redis connections. The daemon keeps two: one for the blocking read (a blocked connection can
// do nothing else) and one for everything else, including interrupting that read.
//
// On Redis Cluster (REDIS_CLUSTER_NODES) the same code runs over an ioredis Cluster: every
// command it sends touches one key, or keys that share a hash slot (see protocol/keys.ts).
import { Cluster, Redis } from 'ioredis';
import { credentialsOf, type ClusterNode } from '../config/redis.js';
import type { Logger } from '../log.js';

export type RedisClient = Redis | Cluster;

export interface RedisTarget {
  redisUrl: string;
  /** When not empty, a cluster is used, with the URL's user, password and TLS. */
  clusterNodes: readonly ClusterNode[];
}

const retryStrategy = (attempt: number) => Math.min(50 * 2 ** attempt, 2000);

export function connectRedis(target: RedisTarget, name: string, log: Logger): RedisClient {
  // Keep retrying commands across reconnects rather than failing them after a fixed count: a
  // Redis restart or failover must not lose a result; the callers bound how long they wait.
  const options = { connectionName: name, maxRetriesPerRequest: null, retryStrategy, lazyConnect: true };
  const redis: RedisClient = target.clusterNodes.length > 0
    ? new Cluster(
        [...target.clusterNodes],
        { lazyConnect: true, clusterRetryStrategy: retryStrategy, redisOptions: { connectionName: name, maxRetriesPerRequest: null, ...credentialsOf(target.redisUrl) } },
      )
    : new Redis(target.redisUrl, options);
  redis.on('error', (err: Error) => log.warn({ err: err.message, connection: name }, 'redis connection error'));
  return redis;
}

export function isCluster(redis: RedisClient): redis is Cluster {
  return redis instanceof Cluster;
}

/**
 * Connect, and when the first attempt fails keep waiting while the client reconnects (it retries
 * with backoff): a daemon started before its Redis is up waits for it, not-ready, instead of
 * failing its start while its connections go on retrying. Rejects once the client is closed (a
 * drain asked for meanwhile).
 */
export async function untilConnected(redis: RedisClient): Promise<void> {
  try {
    await redis.connect();
  } catch {
    if (redis.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const ready = () => {
        redis.off('end', end);
        resolve();
      };
      const end = () => {
        redis.off('ready', ready);
        reject(new Error('the connection was closed before it was ever ready'));
      };
      redis.once('ready', ready);
      redis.once('end', end);
    });
  }
}
