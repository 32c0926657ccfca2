// Start one private redis-server for the whole test run, unless REDIS_URL points at one.
import 'vitest';
import type { TestProject } from 'vitest/node';
import { startPrivateRedis, type PrivateRedis } from '../dev/redis-server.js';

let server: PrivateRedis | undefined;

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.REDIS_URL;
  if (!url) {
    server = await startPrivateRedis();
    url = server.url;
  }
  project.provide('redisUrl', url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
