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
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}
