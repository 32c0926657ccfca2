// `npm run bench`: a benchmark, not a test. Starts its own redis-server and executors, measures in
// one run and prints one JSON document: queue -> first byte and queue -> result of trivial python
// and node snippets for the executor with standby interpreters, without them, and the raw baseline
// (the interpreter spawned straight from Node); throughput; streaming; budget overshoot; the
// daemon's memory; and, with BENCH_GVISOR=1, the same with the executor inside gVisor (runsc).
//
// Tasks of the latency runs are submitted BENCH_THINK_MS apart (BENCH_GVISOR_THINK_MS under
// gVisor), as an agent loop does (it thinks between snippets): that is the time a standby has to
// start after the previous run. The back-to-back runs add the next task as the previous one's exit
// is read (issue "Speed under load"); the throughput run queues every task at once and reads every
// result on one connection. Each is measured with two standby slots, with one (the next standby
// starts only after the run), and without standby.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { ExecutorClient, type TaskInput } from 'agent-executor';
import { runInRunsc, startInRunsc } from '../dev/gvisor.js';
import { freePort, startPrivateRedis } from '../dev/redis-server.js';
import { quantiles, round, sessionCells, sleep, summarize, viaExecutor, type Latency } from './measure.js';
import { rawBaseline, TRIVIAL } from './raw.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const RAW_BIN = fileURLToPath(new URL('./raw.js', import.meta.url));
const N = Number(process.env.BENCH_TASKS ?? 200);
const THINK_MS = Number(process.env.BENCH_THINK_MS ?? 250);
const BURST_THINK_MS = 30;
const STREAM_MIB = Number(process.env.BENCH_STREAM_MIB ?? 100);
const GVISOR = process.env.BENCH_GVISOR === '1';
const GVISOR_N = Number(process.env.BENCH_GVISOR_TASKS ?? N);
// Under gVisor every exec is slow and a standby takes ~0.4 s to start: agent loops think longer
// than that anyway.
const GVISOR_THINK_MS = Number(process.env.BENCH_GVISOR_THINK_MS ?? 1000);
const SANDBOX_USER = process.env.EXECUTOR_SANDBOX_USER ?? '64900';

type Where = 'native' | 'gvisor';

interface RunningExecutor {
  /** Resident memory of the daemon now and at its peak, MiB. */
  rssMiB(): Promise<{ now: number; peak: number }>;
  stop(): Promise<void>;
}

/** How the executor keeps interpreters: two standby slots (the default), one (the next standby starts only after a run), none. */
type Standby = 'slots2' | 'slots1' | 'none';

async function startExecutor(where: Where, redisUrl: string, stream: string, standby: Standby): Promise<RunningExecutor> {
  const httpPort = await freePort();
  const env = {
    REDIS_URL: redisUrl,
    EXECUTOR_STREAM: stream,
    EXECUTOR_MAX_RUNS: '1000000',
    EXECUTOR_STANDBY: standby === 'none' ? 'none' : 'all',
    EXECUTOR_STANDBY_SLOTS: standby === 'slots1' ? '1' : '2',
    EXECUTOR_OUTPUT_BYTES: String((STREAM_MIB + 8) * 1024 * 1024),
    EXECUTOR_FILE_SIZE_BYTES: String(1024 ** 3),
    EXECUTOR_SWEEP_DIRS: '/tmp:/var/tmp:/dev/shm:/run/lock',
    EXECUTOR_SANDBOX_USER: SANDBOX_USER,
    EXECUTOR_HTTP_PORT: String(httpPort),
    LOG_LEVEL: 'warn',
    ...(process.getuid?.() === 0 ? {} : { EXECUTOR_ALLOW_SHARED_USER: '1' }),
  };
  if (where === 'native') {
    const child = spawn(process.execPath, [BIN, 'serve'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
    return {
      rssMiB: async () => ({ now: round(kib('VmRSS'), 1), peak: round(kib('VmHWM'), 1) }),
      stop: async () => {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      },
    };
  }
  // Inside gVisor the daemon's pid is not this machine's: its memory comes from its /metrics.
  const sandbox = startInRunsc([process.execPath, BIN, 'serve'], { env, cwd: '/' });
  // The daemon's logs (warnings only) go to stderr: stdout is the benchmark's JSON document.
  sandbox.child.stdout!.pipe(process.stderr);
  sandbox.child.stderr!.pipe(process.stderr);
  let peak = 0;
  const rss = async () => {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const now = Number(/^process_resident_memory_bytes (\d+)/m.exec(text)?.[1] ?? NaN) / 1024 ** 2;
    peak = Math.max(peak, now);
    return { now: round(now, 1), peak: round(peak, 1) };
  };
  return { rssMiB: rss, stop: () => sandbox.stop() };
}

/** `n` tasks one after another, `thinkMs` apart, after a short warm-up. */
async function latencies(client: ExecutorClient, task: TaskInput, n: number, thinkMs: number): Promise<Latency[]> {
  for (let i = 0; i < 3; i++) await viaExecutor(client, task);
  const xs: Latency[] = [];
  for (let i = 0; i < n; i++) {
    await sleep(thinkMs);
    xs.push(await viaExecutor(client, task));
  }
  return xs;
}

/**
 * Trivial python tasks per second through one executor: `n` queued at once with plain XADD, every
 * result read by one connection (XREAD over all the results streams), so that the measuring side
 * costs little of the two cores the executor has.
 */
async function throughput(redisUrl: string, stream: string, n: number): Promise<number> {
  const redis = new Redis(redisUrl);
  try {
    const ids = Array.from({ length: n }, (_, i) => `tp-${process.pid}-${stream}-${i}`);
    const t0 = performance.now();
    const add = redis.pipeline();
    for (const id of ids) add.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'python', code: 'print(1)' }));
    await add.exec();
    const last = new Map(ids.map((id) => [`executor:results:${id}`, '0-0']));
    while (last.size > 0) {
      const keys = [...last.keys()];
      const reply = (await redis.xread('BLOCK', 1000, 'STREAMS', ...keys, ...keys.map((k) => last.get(k)!))) as [string, [string, string[]][]][] | null;
      for (const [key, entries] of reply ?? []) {
        for (const [entryId, fields] of entries) {
          last.set(key, entryId);
          if (fields[fields.indexOf('type') + 1] !== 'exit') continue;
          if (!fields[fields.indexOf('result') + 1]!.includes('"status":"ok"')) throw new Error(`a throughput task failed: ${fields.join(' ')}`);
          last.delete(key);
        }
      }
    }
    return round(n / ((performance.now() - t0) / 1000), 1);
  } finally {
    redis.disconnect();
  }
}

/** STREAM_MIB MiB written to stdout, through Redis, to this client. */
async function streaming(client: ExecutorClient): Promise<Record<string, unknown>> {
  let streamed = 0;
  let firstAt = NaN;
  const flood = await client.submit(
    { runtime: 'python', code: `import sys\nchunk = b"x" * (1 << 20)\nfor _ in range(${STREAM_MIB}):\n    sys.stdout.buffer.write(chunk)` },
    { onStdout: (d) => ((firstAt = Number.isNaN(firstAt) ? performance.now() : firstAt), (streamed += d.length)) },
  );
  const result = await flood.result;
  return { mib: STREAM_MIB, deliveredBytes: streamed, status: result.status, mibPerSecond: round(streamed / 1024 / 1024 / ((performance.now() - firstAt) / 1000), 1) };
}

/**
 * The ceiling for streaming on this machine: STREAM_MIB MiB in 1 MiB entries XADDed by one
 * connection and XREAD by another, with no executor in between.
 */
async function redisStreamCeiling(redisUrl: string): Promise<number> {
  const writer = new Redis(redisUrl);
  const reader = new Redis(redisUrl);
  const key = `bench:ceiling:${process.pid}`;
  const chunk = Buffer.alloc(1024 * 1024, 120);
  try {
    const t0 = performance.now();
    const read = (async () => {
      let got = 0;
      let last = '0-0';
      while (got < STREAM_MIB * chunk.length) {
        const reply = (await reader.xreadBuffer('COUNT', 100, 'BLOCK', 5000, 'STREAMS', key, last)) as [Buffer, [Buffer, Buffer[]][]][] | null;
        for (const [id, fields] of reply?.[0]?.[1] ?? []) {
          last = id.toString();
          got += fields[1]!.length;
        }
      }
    })();
    const inFlight: Promise<unknown>[] = [];
    for (let i = 0; i < STREAM_MIB; i++) {
      inFlight.push(writer.xadd(key, '*', 'data', chunk));
      if (inFlight.length >= 8) await inFlight.shift();
    }
    await Promise.all([...inFlight, read]);
    return round(STREAM_MIB / ((performance.now() - t0) / 1000), 1);
  } finally {
    await writer.del(key);
    writer.disconnect();
    reader.disconnect();
  }
}

/** How far past a 500 ms CPU and a 500 ms wall budget runs go before they are stopped. */
async function overshoot(client: ExecutorClient, n: number): Promise<Record<string, unknown>> {
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < n; i++) {
    cpu.push((await (await client.submit({ runtime: 'python', code: 'while True: pass', limits: { cpuMs: 500 } })).result).cpuMs - 500);
    wall.push((await (await client.submit({ runtime: 'bash', code: 'sleep 30', limits: { wallMs: 500 } })).result).wallMs - 500);
  }
  return { cpu: quantiles(cpu), wall: quantiles(wall) };
}

async function benchExecutor(where: Where, redisUrl: string, n: number, standby: Standby, extras: boolean): Promise<Record<string, unknown>> {
  const thinkMs = where === 'gvisor' ? GVISOR_THINK_MS : THINK_MS;
  const stream = `bench:${where}:${standby}:${process.pid}`;
  const executor = await startExecutor(where, redisUrl, stream, standby);
  const client = new ExecutorClient({ redis: redisUrl, stream });
  try {
    // Waits for the executor to be up and reading.
    await viaExecutor(client, { runtime: 'python', code: TRIVIAL.python.code });
    await sleep(thinkMs);
    const idle = await executor.rssMiB();
    const out: Record<string, unknown> = {};
    for (const runtime of ['python', 'node'] as const) out[runtime] = summarize(await latencies(client, { runtime, code: TRIVIAL[runtime].code }, n, thinkMs));
    // Back to back: the next task added as the previous one's exit is read.
    out.backToBack = {};
    for (const runtime of ['python', 'node'] as const) (out.backToBack as Record<string, unknown>)[runtime] = summarize(await latencies(client, { runtime, code: TRIVIAL[runtime].code }, n, 0));
    if (extras) {
      // A cell of an open session: no process to start, only the Redis round trips and the kernel.
      // Also with cells 30 ms apart, as an agent's calls in a burst: after a longer idle this
      // machine takes ~1 ms to answer even one Redis round trip (0.1 ms when busy).
      out.sessionCell = {};
      out.sessionCellBurst = {};
      for (const runtime of ['python', 'node'] as const) {
        (out.sessionCell as Record<string, unknown>)[runtime] = summarize(await sessionCells(client, runtime, TRIVIAL[runtime].code, n, thinkMs));
        (out.sessionCellBurst as Record<string, unknown>)[runtime] = summarize(await sessionCells(client, runtime, TRIVIAL[runtime].code, n, BURST_THINK_MS));
      }
    }
    out.throughputTrivialPythonTasksPerSecond = await throughput(redisUrl, stream, n);
    if (extras) {
      out.streaming = { ...(await streaming(client)), redisAloneMiBPerSecond: await redisStreamCeiling(redisUrl) };
      out.overshootMs = await overshoot(client, 10);
      out.daemonRssMiB = { idle: idle.now, peak: (await executor.rssMiB()).peak };
    }
    return out;
  } finally {
    await client.close();
    await executor.stop();
  }
}

async function rawIn(where: Where, n: number, dir: string): Promise<Record<string, ReturnType<typeof summarize>>> {
  if (where === 'native') return rawBaseline(n, dir);
  const r = await runInRunsc([process.execPath, RAW_BIN, String(n), '/tmp'], { cwd: '/', timeoutMs: 30 * 60_000 });
  if (r.code !== 0) throw new Error(`the raw baseline under gVisor failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, ReturnType<typeof summarize>>;
}

async function benchWhere(where: Where, redisUrl: string, n: number, dir: string): Promise<Record<string, unknown>> {
  const rawBaseline = await rawIn(where, n, dir);
  const withStandby = await benchExecutor(where, redisUrl, n, 'slots2', true);
  const oneSlot = await benchExecutor(where, redisUrl, n, 'slots1', false);
  const fresh = await benchExecutor(where, redisUrl, n, 'none', false);
  const p50 = (e: Record<string, unknown>, runtime: 'python' | 'node', regime?: 'backToBack') =>
    ((regime ? (e[regime] as Record<string, unknown>) : e)[runtime] as ReturnType<typeof summarize>).firstByteMs.p50;
  const ratio = (e: Record<string, unknown>, runtime: 'python' | 'node', regime?: 'backToBack') => round(p50(e, runtime, regime) / rawBaseline[runtime]!.firstByteMs.p50);
  const each = (f: (runtime: 'python' | 'node') => number) => ({ python: f('python'), node: f('node') });
  return {
    rawBaseline,
    executorWithStandby: withStandby,
    executorWithOneStandbySlot: oneSlot,
    executorWithoutStandby: fresh,
    ratioFirstByteP50ToRaw: {
      python: { withStandby: ratio(withStandby, 'python'), withoutStandby: ratio(fresh, 'python') },
      node: { withStandby: ratio(withStandby, 'node'), withoutStandby: ratio(fresh, 'node') },
    },
    ratioBackToBackFirstByteP50ToRaw: each((r) => ratio(withStandby, r, 'backToBack')),
    ratioBackToBackToPacedFirstByteP50: each((r) => round(p50(withStandby, r, 'backToBack') / p50(withStandby, r))),
    ratioThroughputToWithoutStandby: round((withStandby.throughputTrivialPythonTasksPerSecond as number) / (fresh.throughputTrivialPythonTasksPerSecond as number)),
  };
}

// The measurements built above, read back by path.
type Doc = Record<string, any>;

/** The targets (p50, this machine) next to what this run measured. */
function targets(native: Doc, gvisor: Doc | undefined): { target: string; measured: number; met: boolean }[] {
  const s = native.executorWithStandby;
  const rows: [string, number, number][] = [
    ['python queue->first byte with standby <= 4 ms', s.python.firstByteMs.p50, 4],
    ['node queue->first byte with standby <= 4 ms', s.node.firstByteMs.p50, 4],
    ['python session cell queue->first byte <= 3 ms', s.sessionCell.python.firstByteMs.p50, 3],
    ['node session cell queue->first byte <= 3 ms', s.sessionCell.node.firstByteMs.p50, 3],
    ['python session cell, cells 30 ms apart, queue->first byte <= 3 ms', s.sessionCellBurst.python.firstByteMs.p50, 3],
    ['node session cell, cells 30 ms apart, queue->first byte <= 3 ms', s.sessionCellBurst.node.firstByteMs.p50, 3],
    ['python with standby / raw fresh spawn <= 0.5', native.ratioFirstByteP50ToRaw.python.withStandby, 0.5],
    ['node with standby / raw fresh spawn <= 0.2', native.ratioFirstByteP50ToRaw.node.withStandby, 0.2],
    ['trivial python tasks per second >= 50', -s.throughputTrivialPythonTasksPerSecond, -50],
    ['stdout streamed through Redis >= 300 MiB/s', -s.streaming.mibPerSecond, -300],
    ['CPU overshoot <= 100 ms', s.overshootMs.cpu.p50, 100],
    ['wall overshoot <= 100 ms', s.overshootMs.wall.p50, 100],
    ['idle RSS <= 80 MiB', s.daemonRssMiB.idle, 80],
  ];
  // Issue "Speed under load": back to back as warm as paced, against the raw spawn, and throughput.
  rows.push(
    ['python back-to-back first byte / paced <= 1.5', native.ratioBackToBackToPacedFirstByteP50.python, 1.5],
    ['node back-to-back first byte / paced <= 1.5', native.ratioBackToBackToPacedFirstByteP50.node, 1.5],
    ['python back-to-back first byte / raw fresh spawn <= 0.6', native.ratioBackToBackFirstByteP50ToRaw.python, 0.6],
    ['node back-to-back first byte / raw fresh spawn <= 0.4', native.ratioBackToBackFirstByteP50ToRaw.node, 0.4],
    ['trivial python tasks per second / without standby >= 3', -native.ratioThroughputToWithoutStandby, -3],
  );
  if (gvisor) {
    rows.push(['gVisor: python queue->first byte with standby <= 6 ms', gvisor.executorWithStandby.python.firstByteMs.p50, 6]);
    rows.push(['gVisor: node queue->first byte with standby <= 6 ms', gvisor.executorWithStandby.node.firstByteMs.p50, 6]);
    for (const r of ['python', 'node'] as const) {
      rows.push([`gVisor: ${r} back-to-back first byte / paced <= 1.5`, gvisor.ratioBackToBackToPacedFirstByteP50[r], 1.5]);
      rows.push([`gVisor: ${r} back-to-back first byte / raw gVisor spawn <= 0.3`, gvisor.ratioBackToBackFirstByteP50ToRaw[r], 0.3]);
    }
  }
  // "At least" targets are negated above so that every row reads measured <= limit.
  return rows.map(([target, measured, limit]) => ({ target, measured: Math.abs(measured), met: measured <= limit }));
}

async function main(): Promise<void> {
  const redis = await startPrivateRedis();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  try {
    const native = await benchWhere('native', redis.url, N, dir);
    const gvisor = GVISOR ? await benchWhere('gvisor', redis.url, GVISOR_N, dir) : 'not run: set BENCH_GVISOR=1 (needs root and runsc)';
    const doc = {
      targets: targets(native, typeof gvisor === 'string' ? undefined : gvisor),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, sandboxUser: process.getuid?.() === 0 ? 'dedicated' : 'shared' },
      settings: { tasks: N, thinkMs: THINK_MS, streamMiB: STREAM_MIB, ...(GVISOR ? { gvisorTasks: GVISOR_N, gvisorThinkMs: GVISOR_THINK_MS } : {}) },
      native,
      gvisor,
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } finally {
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
