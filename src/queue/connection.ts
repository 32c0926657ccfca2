// Redis connections. The daemon keeps two: one for the blocking read (a blocked connection can
// do nothing else) and one for everything else, including interrupting that read.
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';

export function connectRedis(url: string, name: string, log: Logger): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    // Keep retrying commands across reconnects rather than failing them after a fixed count.
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
    lazyConnect: true,
  });
  redis.on('error', (err: Error) => log.warn({ err: err.message, connection: name }, 'redis connection error'));
  return redis;
}
