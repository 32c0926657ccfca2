// Soak: two executors, 500 mixed tasks, executors killed and restarted at random and recycling
// every few runs. Every task must get exactly one final answer. Runs against a standalone Redis
// and against a three-node Redis Cluster.
import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { DaemonProcess } from '../helpers/daemon.js';
import { needsRoot, redisUrl, sandboxUid, unique } from '../helpers/env.js';
import { killHard, startExecutor, type FleetOptions } from '../helpers/fleet.js';
import { redisCluster } from '../helpers/redis-extra.js';
import { resultEntries } from '../helpers/results.js';

const TASKS = 500;
const KILLS = 6;

// A deterministic mix (no Math.random: a failure must be reproducible).
function taskFor(i: number, id: string): string {
  switch (i % 10) {
    case 0:
      return JSON.stringify({ id, runtime: 'bash', code: 'sleep 0.4; echo slow' });
    case 1:
      return JSON.stringify({ id, runtime: 'python', code: 'raise SystemExit(3)' });
    case 2:
      return JSON.stringify({ id, runtime: 'bash', code: 'sleep 5', limits: { wallMs: 300 } });
    case 3:
      return JSON.stringify({ id, runtime: 'cobol', code: 'malformed: unknown runtime' });
    case 4:
      return JSON.stringify({ id, runtime: 'node', code: 'console.log(process.argv.length)' });
    default:
      return JSON.stringify({ id, runtime: 'bash', code: `echo ${i}` });
  }
}

async function soak(redis: Redis | Cluster, target: FleetOptions['redis']): Promise<void> {
  const stream = `{soak-${unique('s')}}:tasks`;
  const ids = Array.from({ length: TASKS }, (_, i) => `${unique('t')}-${i}`);
  for (let i = 0; i < TASKS; i++) await redis.xadd(stream, '*', 'task', taskFor(i, ids[i]!));

  const uids = [sandboxUid(7), sandboxUid(8)];
  const slots: (DaemonProcess | undefined)[] = [undefined, undefined];
  const launch = (slot: number) => {
    const d = startExecutor({ redis: target, stream, env: { EXECUTOR_MAX_RUNS: '15' } }, uids[slot]!);
    slots[slot] = d;
    // Recycled executors are replaced, as Kubernetes would.
    void d.exited.then(() => {
      if (slots[slot] === d && !finished) launch(slot);
    });
  };
  let finished = false;
  launch(0);
  launch(1);

  const answered = new Set<string>();
  let kills = 0;
  let nextKillAt = 40;
  const deadline = Date.now() + 240_000;
  try {
    while (answered.size < TASKS) {
      if (Date.now() > deadline) throw new Error(`only ${answered.size} of ${TASKS} tasks answered in time`);
      // One key per command (a cluster pipeline may not span slots); sent concurrently.
      const waiting = ids.filter((id) => !answered.has(id));
      const replies = await Promise.all(waiting.map((id) => redis.exists(`{executor:results:${id}}:answered`)));
      replies.forEach((n, k) => n === 1 && answered.add(waiting[k]!));
      if (answered.size >= nextKillAt && kills < KILLS) {
        const slot = kills % 2;
        const victim = slots[slot];
        slots[slot] = undefined;
        if (victim) await killHard(victim, uids[slot]!);
        kills += 1;
        nextKillAt += 60;
        launch(slot);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    finished = true;
    await Promise.all(slots.map((d) => d?.stop()));
  }

  let exits = 0;
  let duplicates = 0;
  for (const id of ids) {
    const n = (await resultEntries(redis, id)).filter((e) => e.type === 'exit').length;
    exits += Math.min(n, 1);
    if (n > 1) duplicates += 1;
  }
  const lost = TASKS - exits;
  process.stdout.write(`soak (${'REDIS_CLUSTER_NODES' in target ? 'cluster' : 'standalone'}): ${TASKS} tasks, ${exits} final answers, ${duplicates} duplicates, ${lost} lost, ${kills} executors killed\n`);
  expect({ exits, duplicates, lost, kills }).toEqual({ exits: TASKS, duplicates: 0, lost: 0, kills: KILLS });
}

describe.skipIf(needsRoot.skip)(`soak ${needsRoot.reason}`, () => {
  it('500 tasks, 500 final answers against a standalone Redis', async () => {
    const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    try {
      await soak(redis, { REDIS_URL: redisUrl() });
    } finally {
      redis.disconnect();
    }
  }, 300_000);

  it('500 tasks, 500 final answers against a three-node Redis Cluster', async () => {
    const cluster = await redisCluster();
    const redis = new Cluster(cluster.nodes.split(',').map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })));
    try {
      await soak(redis, { REDIS_CLUSTER_NODES: cluster.nodes });
    } finally {
      redis.disconnect();
      await cluster.stop();
    }
  }, 300_000);
});
