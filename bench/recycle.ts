// `npm run bench:recycle`: the local stand-in for a Job-shaped warm pool. A supervisor keeps
// RECYCLE_POOL executor slots filled, as KEDA's ScaledJob and the Job controller do: whenever an
// executor exits, a new process takes its slot at once, with a new consumer name (a new pod name)
// and fresh directories (new emptyDir volumes). RECYCLE_TASKS tasks are queued at the start; every
// executor recycles after RECYCLE_MAX_RUNS runs, lowered by the default jitter. It prints one JSON
// report: answers (each task exactly once), capacity lost to recycling (executor-seconds not ready
// over executor-seconds), the gap from an executor's exit to its replacement taking work (p50,
// max), and the consumers left in the group while the pool runs and after it stops.
//
// "Ready" is from the executor's "executor started" log (connected, group made, taking tasks) to
// its last "run finished" (after which it leaves); a slot is not ready while its executor starts
// up, leaves, or is being replaced. The gap is from a process's exit to its replacement's
// "executor started".
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startPrivateRedis } from '../dev/redis-server.js';
import { quantiles, round } from './measure.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const TASKS = Number(process.env.RECYCLE_TASKS ?? 300);
const POOL = Number(process.env.RECYCLE_POOL ?? 2);
const MAX_RUNS = Number(process.env.RECYCLE_MAX_RUNS ?? 10);
const JITTER = process.env.EXECUTOR_RECYCLE_JITTER ?? '0.1';
const UID_BASE = Number(process.env.RECYCLE_UID_BASE ?? 64_600);
const STREAM = 'executor:{recycle}:tasks';
const PREFIX = 'executor:{recycle}:';
const GROUP = 'executors';

interface Life {
  slot: number;
  consumer: string;
  spawnedAt: number;
  readyAt?: number;
  lastRunAt?: number;
  exitedAt?: number;
  exitCode?: number | null;
  runs: number;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: each executor runs snippets as sandbox uids of its own');
  const redisServer = await startPrivateRedis();
  const redis = new Redis(redisServer.url);
  // Outside /tmp: every run replaces /tmp with a private tmpfs.
  fs.mkdirSync('/var/lib/agent-executor-recycle', { recursive: true });
  const root = fs.mkdtempSync('/var/lib/agent-executor-recycle/run-');
  // The sandbox users must reach their scratch directories below (mkdtemp makes 0700 folders).
  fs.chmodSync(root, 0o755);
  const lives: Life[] = [];
  const children = new Map<number, ChildProcess>();
  let stopping = false;
  let failure: Error | undefined;
  let generation = 0;

  const spawnInto = (slot: number): void => {
    generation += 1;
    const consumer = `executor-recycle-${slot}-${generation}-${Math.random().toString(36).slice(2, 7)}`;
    // Fresh directories for every executor: a new pod's emptyDir volumes.
    const dirs = fs.mkdtempSync(path.join(root, `${consumer}-`));
    fs.chmodSync(dirs, 0o755);
    const life: Life = { slot, consumer, spawnedAt: performance.now(), runs: 0 };
    lives.push(life);
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        REDIS_URL: redisServer.url,
        EXECUTOR_STREAM: STREAM,
        EXECUTOR_KEY_PREFIX: PREFIX,
        EXECUTOR_GROUP: GROUP,
        EXECUTOR_CONSUMER: consumer,
        EXECUTOR_MAX_RUNS: String(MAX_RUNS),
        EXECUTOR_RECYCLE_JITTER: JITTER,
        EXECUTOR_SANDBOX_USER: String(UID_BASE + slot * 10),
        EXECUTOR_WORK_DIR: path.join(dirs, 'runs'),
        EXECUTOR_BLOCK_MS: '1000',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.set(slot, child);
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      let msg: string | undefined;
      try {
        msg = (JSON.parse(line) as { msg?: string }).msg;
      } catch {
        return;
      }
      if (msg === 'executor started') life.readyAt = performance.now();
      if (msg === 'run finished') {
        life.runs += 1;
        life.lastRunAt = performance.now();
      }
    });
    child.once('exit', (code) => {
      life.exitedAt = performance.now();
      life.exitCode = code;
      fs.rmSync(dirs, { recursive: true, force: true });
      // An executor that never became ready is a broken set-up, not a recycle: stop, do not loop.
      if (life.readyAt === undefined && !stopping) failure = new Error(`executor ${consumer} exited with ${code} before it was ready`);
      else if (!stopping) spawnInto(slot);
    });
  };

  const ids = Array.from({ length: TASKS }, (_, i) => `recycle-${i}`);
  await redis.xgroup('CREATE', STREAM, GROUP, '0', 'MKSTREAM');
  const pipeline = redis.pipeline();
  ids.forEach((id, i) => {
    const task = i % 2 === 0 ? { id, runtime: 'python', code: 'print(1)' } : { id, runtime: 'bash', code: 'echo 1' };
    pipeline.xadd(STREAM, '*', 'task', JSON.stringify(task));
  });
  await pipeline.exec();
  const started = performance.now();
  for (let slot = 0; slot < POOL; slot++) spawnInto(slot);

  // Wait for every answer (bounded: 10 minutes).
  const deadline = Date.now() + 600_000;
  let answered = 0;
  while (answered < TASKS) {
    if (failure) throw failure;
    if (Date.now() > deadline) throw new Error(`only ${answered} of ${TASKS} answered within 10 minutes`);
    await new Promise((r) => setTimeout(r, 200));
    answered = (await Promise.all(ids.map((id) => redis.exists(`${PREFIX}answered:${id}`)))).reduce((a, b) => a + b, 0);
  }
  const finished = performance.now();
  const consumerNames = async () => ((await redis.xinfo('CONSUMERS', STREAM, GROUP)) as (string | number)[][]).map((r) => String(r[r.indexOf('name') + 1]));
  const duringNames = await consumerNames();
  const liveNames = lives.filter((l) => l.exitedAt === undefined).map((l) => l.consumer);

  stopping = true;
  await Promise.all(
    [...children.values()].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
  const afterNames = await consumerNames();

  // Answers: each task exactly one exit entry, all ok.
  let exits = 0;
  let ok = 0;
  let duplicates = 0;
  const notOk: string[] = [];
  for (const id of ids) {
    const entries = (await redis.xrange(`${PREFIX}results:${id}`, '-', '+')) as [string, string[]][];
    const own = entries.filter(([, fields]) => fields[fields.indexOf('type') + 1] === 'exit');
    exits += own.length;
    if (own.length > 1) duplicates += 1;
    for (const [, fields] of own) {
      const result = JSON.parse(fields[fields.indexOf('result') + 1]!) as { status: string; error?: string };
      if (result.status === 'ok') ok += 1;
      else notOk.push(`${id}: ${result.status} ${result.error ?? ''}`);
    }
  }

  // Capacity: per slot, the time ready over the time from the start to the last answer.
  const window = finished - started;
  let readyMs = 0;
  for (const l of lives) {
    if (l.readyAt === undefined || l.readyAt > finished) continue;
    const end = Math.min(l.exitedAt !== undefined ? (l.lastRunAt ?? l.exitedAt) : finished, finished);
    readyMs += Math.max(0, end - l.readyAt);
  }
  const gaps: number[] = [];
  for (const l of lives) {
    const next = lives.find((m) => m.slot === l.slot && m.spawnedAt >= (l.exitedAt ?? Infinity));
    if (l.exitedAt !== undefined && next?.readyAt !== undefined && l.exitedAt < finished) gaps.push(next.readyAt - l.exitedAt);
  }
  const recycled = lives.filter((l) => l.exitedAt !== undefined && l.exitedAt < finished);
  const report = {
    tasks: TASKS,
    pool: POOL,
    maxRuns: MAX_RUNS,
    jitter: Number(JITTER),
    answers: { exits, ok, duplicates, lost: TASKS - answered, notOk: notOk.slice(0, 5) },
    seconds: round(window / 1000, 2),
    tasksPerSecond: round(TASKS / (window / 1000), 1),
    executors: lives.length,
    recycles: recycled.length,
    runsPerExecutor: [...new Set(recycled.map((l) => l.runs))].sort((a, b) => a - b),
    exitCodes: [...new Set(recycled.map((l) => l.exitCode))],
    capacityLost: round(1 - readyMs / (window * POOL), 4),
    gapMs: quantiles(gaps),
    // Start-up of one executor process, spawn to "executor started" (a pod's own start comes on top).
    startMs: quantiles(lives.filter((l) => l.readyAt !== undefined).map((l) => l.readyAt! - l.spawnedAt)),
    consumers: {
      whileRunning: duringNames.length,
      liveExecutors: liveNames.length,
      onlyLive: duringNames.every((n) => liveNames.includes(n)),
      afterStop: afterNames.length,
    },
    machine: { cpus: os.cpus().length, node: process.version },
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  await redis.quit();
  await redisServer.stop();
  fs.rmSync(root, { recursive: true, force: true });
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
