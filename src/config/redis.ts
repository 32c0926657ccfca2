// Where Redis is: the default URL, the cluster node list and the credentials the nodes take from
// the URL, shared by the daemon's settings and connections and by the client.
import { configError } from '../errors.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface ClusterNode {
  host: string;
  port: number;
}

/** `host:port[,host:port...]`, or empty for no cluster. */
export const CLUSTER_NODES_PATTERN = /^$|^[^,\s]+:\d+(,[^,\s]+:\d+)*$/;

/** The nodes of `host:port[,host:port...]` (an IPv6 host keeps its colons: the port is after the last). */
export function parseClusterNodes(list: string): ClusterNode[] {
  return list
    .split(',')
    .filter((node) => node !== '')
    .map((node) => {
      const colon = node.lastIndexOf(':');
      return { host: node.slice(0, colon), port: Number(node.slice(colon + 1)) };
    });
}

// On Redis Cluster the nodes are given as host:port (REDIS_CLUSTER_NODES); the ACL user, its
// password and TLS still come from the Redis URL (REDIS_URL, or the file REDIS_URL_FILE names),
// so that credentials are kept in one place, out of the environment, for both kinds of Redis.
export interface NodeCredentials {
  username?: string;
  password?: string;
  tls?: Record<string, never>;
}

export function credentialsOf(redisUrl: string): NodeCredentials {
  const u = new URL(redisUrl);
  return {
    ...(u.username ? { username: decoded(u.username, 'user') } : {}),
    ...(u.password ? { password: decoded(u.password, 'password') } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** A percent-escaped part of the URL; a malformed escape is a bad setting, not a crash. */
function decoded(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw configError(`the Redis URL's ${what} has a malformed percent-escape (write % as %25)`);
  }
}
