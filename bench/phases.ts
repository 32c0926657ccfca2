// `npm run bench:phases`: where a trivial run's time goes, from the executor's own debug logs
// ("run started": how long the task waited for its standby; "run phases": starting it, the
// snippet, the sweep, the rest), for python and node tasks paced PHASES_THINK_MS apart and back to
// back (the next added as the previous one's exit is read), and all queued at once. Prints one
// JSON report of medians (ms) beside the client's queue -> first byte. PHASES_GVISOR=1 runs the
// executor inside gVisor (runsc). Not a test.
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ExecutorClient } from 'agent-executor';
import { startInRunsc } from '../dev/gvisor.js';
import { startPrivateRedis } from '../dev/redis-server.js';
import { quantiles, sleep, viaExecutor } from './measure.js';
import { TRIVIAL } from './raw.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const N = Number(process.env.PHASES_TASKS ?? 40);
const THINK_MS = Number(process.env.PHASES_THINK_MS ?? 250);
const PHASES = ['waitedMs', 'launchMs', 'snippetMs', 'sweepMs', 'afterMs'] as const;

async function main(): Promise<void> {
  const redis = await startPrivateRedis();
  const stream = `phases:${process.pid}`;
  const env = {
      REDIS_URL: redis.url,
      EXECUTOR_STREAM: stream,
      EXECUTOR_MAX_RUNS: '1000000',
      EXECUTOR_SWEEP_DIRS: '/tmp:/var/tmp:/dev/shm:/run/lock',
      EXECUTOR_SANDBOX_USER: process.env.EXECUTOR_SANDBOX_USER ?? '64800',
      EXECUTOR_STANDBY_SLOTS: process.env.EXECUTOR_STANDBY_SLOTS ?? '2',
      LOG_LEVEL: 'debug',
  };
  const gvisor = process.env.PHASES_GVISOR === '1';
  const sandbox = gvisor ? startInRunsc([process.execPath, BIN, 'serve'], { env, cwd: '/' }) : undefined;
  const daemon = sandbox
    ? sandbox.child
    : spawn(process.execPath, [BIN, 'serve'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  // Log lines by task id: the "run started" and "run phases" of each.
  const byTask = new Map<string, Record<string, number>>();
  readline.createInterface({ input: daemon.stdout! }).on('line', (line) => {
    try {
      const l = JSON.parse(line) as Record<string, unknown>;
      if (typeof l.taskId !== 'string' || (l.msg !== 'run started' && l.msg !== 'run phases')) return;
      const seen = byTask.get(l.taskId) ?? {};
      for (const k of PHASES) if (typeof l[k] === 'number') seen[k] = l[k] as number;
      byTask.set(l.taskId, seen);
    } catch {
      // not a log line
    }
  });
  const client = new ExecutorClient({ redis: redis.url, stream });
  try {
    const report: Record<string, unknown> = {};
    for (const [regime, thinkMs] of [['paced', THINK_MS], ['backToBack', 0]] as const) {
      for (const runtime of ['python', 'node'] as const) {
        const ids: string[] = [];
        const firstByte: number[] = [];
        for (let i = 0; i < N + 3; i++) {
          await sleep(thinkMs);
          const id = `${regime}-${runtime}-${i}`;
          const l = await viaExecutor(client, { id, runtime, code: TRIVIAL[runtime].code });
          // The first three warm up.
          if (i >= 3) (ids.push(id), firstByte.push(l.firstByteMs));
        }
        await sleep(200);
        const phases = Object.fromEntries(PHASES.map((k) => [k, quantiles(ids.map((id) => byTask.get(id)?.[k] ?? NaN).filter((x) => !Number.isNaN(x))).p50]));
        report[`${regime} ${runtime}`] = { firstByteMs: quantiles(firstByte).p50, ...phases };
      }
    }
    // All queued at once (the throughput regime): the phases of each, and the rate.
    const ids = Array.from({ length: N }, (_, i) => `queued-${i}`);
    const t0 = Date.now();
    const subs = await Promise.all(ids.map((id) => client.submit({ id, runtime: 'python', code: TRIVIAL.python.code })));
    await Promise.all(subs.map((s) => s.result));
    const seconds = (Date.now() - t0) / 1000;
    await sleep(200);
    report['queued python'] = { tasksPerSecond: Math.round((N / seconds) * 10) / 10, ...Object.fromEntries(PHASES.map((k) => [k, quantiles(ids.map((id) => byTask.get(id)?.[k] ?? NaN).filter((x) => !Number.isNaN(x))).p50])) };
    process.stdout.write(`${JSON.stringify({ tasks: N, thinkMs: THINK_MS, gvisor, p50: report }, null, 2)}\n`);
  } finally {
    await client.close();
    if (sandbox) await sandbox.stop();
    else {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('exit', r));
    }
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:phases failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
