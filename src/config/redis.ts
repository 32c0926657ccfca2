// Where Redis is: the default URL and the cluster node list, shared by the daemon's settings and
// the client (which takes the same list from its callers).

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
