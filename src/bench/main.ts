// `npm run bench`: a benchmark, not a test. Starts its own redis-server and executor, measures in
// one run and prints one JSON document: queue -> first byte and queue -> result for trivial python
// and node snippets against the raw baseline (spawning the interpreter directly), throughput,
// streaming throughput, budget overshoot and the daemon's memory. BENCH_TASKS sets the sample size.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ExecutorClient } from '../client/client.js';
import { startPrivateRedis } from '../dev/redis-server.js';
import type { TaskInput } from '../task/schema.js';

const BIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const N = Number(process.env.BENCH_TASKS ?? 200);
const STREAM_MIB = Number(process.env.BENCH_STREAM_MIB ?? 100);

interface Latency {
  firstByteMs: number;
  resultMs: number;
}

const quantiles = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => Number((s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN).toFixed(2));
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), n: s.length };
};
const summarize = (xs: Latency[]) => ({ firstByteMs: quantiles(xs.map((x) => x.firstByteMs)), resultMs: quantiles(xs.map((x) => x.resultMs)) });

async function viaExecutor(client: ExecutorClient, task: TaskInput): Promise<Latency> {
  const t0 = performance.now();
  let first = NaN;
  const sub = await client.submit(task, { onStdout: () => (first = Number.isNaN(first) ? performance.now() - t0 : first) });
  const r = await sub.result;
  if (r.status !== 'ok') throw new Error(`bench task failed: ${r.status} ${r.error ?? ''}`);
  return { firstByteMs: first, resultMs: performance.now() - t0 };
}

// The raw baseline: the same interpreter on the same file, spawned straight from Node with a
// clean environment — no Redis, no sandbox.
async function raw(argv: string[], file: string, code: string): Promise<Latency> {
  fs.writeFileSync(file, code);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    let first = NaN;
    const child = spawn(argv[0]!, [...argv.slice(1), file], { env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: os.tmpdir(), LANG: 'C.UTF-8' }, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', () => (first = Number.isNaN(first) ? performance.now() - t0 : first));
    child.once('error', reject);
    child.once('close', () => resolve({ firstByteMs: first, resultMs: performance.now() - t0 }));
  });
}

function rssKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN);
}

async function main(): Promise<void> {
  const redis = await startPrivateRedis();
  const asRoot = process.getuid?.() === 0;
  const stream = `bench:${process.pid}`;
  const executor = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      REDIS_URL: redis.url,
      EXECUTOR_STREAM: stream,
      EXECUTOR_MAX_RUNS: '1000000',
      EXECUTOR_OUTPUT_BYTES: String((STREAM_MIB + 8) * 1024 * 1024),
      EXECUTOR_FILE_SIZE_BYTES: String(1024 ** 3),
      EXECUTOR_SWEEP_DIRS: '/tmp:/var/tmp:/dev/shm:/run/lock',
      EXECUTOR_SANDBOX_USER: process.env.EXECUTOR_SANDBOX_USER ?? '64998',
      LOG_LEVEL: 'warn',
      ...(asRoot ? {} : { EXECUTOR_ALLOW_SHARED_USER: '1' }),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const client = new ExecutorClient({ redis: redis.url, stream });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  try {
    // Warm up (and wait for the executor to be reading).
    await viaExecutor(client, { runtime: 'python', code: 'print(1)' });
    const idleRssKiB = rssKiB(executor.pid!, 'VmRSS');

    const cases = {
      python: { task: { runtime: 'python', code: 'print(1)' } as TaskInput, rawArgv: ['python3', '-u', '-B'] },
      node: { task: { runtime: 'node', code: 'console.log(1)' } as TaskInput, rawArgv: ['node'] },
    };
    const latency: Record<string, unknown> = {};
    for (const [name, c] of Object.entries(cases)) {
      const exec: Latency[] = [];
      const base: Latency[] = [];
      for (let i = 0; i < N; i++) {
        exec.push(await viaExecutor(client, c.task));
        base.push(await raw(c.rawArgv, path.join(scratch, name === 'python' ? 'main.py' : 'main.js'), c.task.code));
      }
      const e = summarize(exec);
      const b = summarize(base);
      latency[name] = {
        executor: e,
        rawBaseline: b,
        ratioFirstByteP50: Number((e.firstByteMs.p50 / b.firstByteMs.p50).toFixed(2)),
      };
    }

    // Throughput: N trivial python tasks queued at once, through one executor.
    const t0 = performance.now();
    const subs = await Promise.all(Array.from({ length: N }, () => client.submit({ runtime: 'python', code: 'print(1)' })));
    await Promise.all(subs.map((s) => s.result));
    const tasksPerSecond = Number((N / ((performance.now() - t0) / 1000)).toFixed(1));

    // Streaming: STREAM_MIB MiB written to stdout, through Redis, to this client.
    let streamed = 0;
    let firstAt = NaN;
    const flood = await client.submit(
      { runtime: 'python', code: `import sys\nchunk = b"x" * (1 << 20)\nfor _ in range(${STREAM_MIB}):\n    sys.stdout.buffer.write(chunk)` },
      { onStdout: (d) => ((firstAt = Number.isNaN(firstAt) ? performance.now() : firstAt), (streamed += d.length)) },
    );
    const floodResult = await flood.result;
    const streamMiBps = Number((streamed / 1024 / 1024 / ((performance.now() - firstAt) / 1000)).toFixed(1));

    // Overshoot past the budgets.
    const cpuOver: number[] = [];
    const wallOver: number[] = [];
    for (let i = 0; i < 10; i++) {
      const cpu = await (await client.submit({ runtime: 'python', code: 'while True: pass', limits: { cpuMs: 500 } })).result;
      cpuOver.push(cpu.cpuMs - 500);
      const wall = await (await client.submit({ runtime: 'bash', code: 'sleep 30', limits: { wallMs: 500 } })).result;
      wallOver.push(wall.wallMs - 500);
    }
    const peakRssKiB = rssKiB(executor.pid!, 'VmHWM');

    process.stdout.write(
      `${JSON.stringify(
        {
          machine: { cpus: os.cpus().length, node: process.version, sandboxUser: asRoot ? 'dedicated' : 'shared' },
          standby: 'not implemented yet: every run starts a fresh interpreter',
          latency,
          throughputTrivialPythonTasksPerSecond: tasksPerSecond,
          streaming: { mib: STREAM_MIB, deliveredBytes: streamed, status: floodResult.status, mibPerSecond: streamMiBps },
          overshootMs: { cpu: quantiles(cpuOver), wall: quantiles(wallOver) },
          daemonRssMiB: { idle: Number((idleRssKiB / 1024).toFixed(1)), peak: Number((peakRssKiB / 1024).toFixed(1)) },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await client.close();
    executor.kill('SIGTERM');
    await new Promise((r) => executor.once('exit', r));
    await redis.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
