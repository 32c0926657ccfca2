// A TCP proxy to the test Redis that can lose replies, as a connection does whose read was lost:
// commands still reach Redis and run there, their answers never come back. `cut()` then drops
// every connection, so the client reconnects (and ioredis re-sends what was never answered).
import net from 'node:net';
import { once } from 'node:events';
import { redisUrl } from './env.js';

export interface RedisProxy {
  url: string;
  /** From now on, replies on the open connections are swallowed. */
  stall(): void;
  /** Drop every open connection. */
  cut(): void;
  close(): void;
}

export async function stallingProxy(): Promise<RedisProxy> {
  const { port } = new URL(redisUrl());
  const stalled = new WeakSet<net.Socket>();
  const open = new Set<net.Socket>();
  const server = net.createServer((downstream) => {
    const upstream = net.connect(Number(port), '127.0.0.1');
    open.add(downstream);
    downstream.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => {
      if (!stalled.has(downstream)) downstream.write(d);
    });
    const end = () => {
      open.delete(downstream);
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    stall: () => open.forEach((s) => stalled.add(s)),
    cut: () => open.forEach((s) => s.destroy()),
    close: () => server.close(),
  };
}
