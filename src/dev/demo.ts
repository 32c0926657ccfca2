// `npm run demo`: the whole loop on one machine. Starts a private redis-server when REDIS_URL is
// not set, starts an executor, runs a few snippets with their output streamed (one of them hits a
// budget), and stops everything it started.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ExecutorClient } from '../client/client.js';
import type { TaskInput } from '../task/schema.js';
import { startPrivateRedis, type PrivateRedis } from './redis-server.js';

const BIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const say = (line: string) => process.stdout.write(`${line}\n`);

const EXAMPLES: { title: string; task: TaskInput }[] = [
  {
    title: 'python, output streamed as it is printed',
    task: { runtime: 'python', code: 'import time\nfor i in range(1, 4):\n    print(f"step {i} of 3", flush=True)\n    time.sleep(0.3)\nprint("sum of squares:", sum(i * i for i in range(1000)))' },
  },
  {
    title: 'node, with stdin and args',
    task: { runtime: 'node', code: 'const input = require("fs").readFileSync(0, "utf8");\nconsole.log(`args=${process.argv.slice(2)} words=${input.split(/\\s+/).filter(Boolean).length}`);', stdin: 'the quick brown fox', args: ['--verbose'] },
  },
  {
    title: 'bash, a failing command on stderr',
    task: { runtime: 'bash', code: 'echo "looking for a file"; ls /no/such/file; exit 2' },
  },
  {
    title: 'python, an endless loop stopped by a 1 s CPU budget',
    task: { runtime: 'python', code: 'while True:\n    pass', limits: { cpuMs: 1000 } },
  },
  {
    title: 'bash, a sleeper stopped by a 1.5 s wall-clock budget',
    task: { runtime: 'bash', code: 'echo "going to sleep"; sleep 60', limits: { wallMs: 1500 } },
  },
];

async function main(): Promise<void> {
  let redis: PrivateRedis | undefined;
  let url = process.env.REDIS_URL;
  if (!url) {
    redis = await startPrivateRedis();
    url = redis.url;
    say(`started a private redis-server at ${url}`);
  }
  const stream = `demo:${randomUUID().slice(0, 8)}`;
  const asRoot = process.getuid?.() === 0;
  if (!asRoot) say('not root: snippets will share your user (EXECUTOR_ALLOW_SHARED_USER=1), fine for a demo, not for production');
  const executor = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      ...process.env,
      REDIS_URL: url,
      EXECUTOR_STREAM: stream,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      // The sweep kills every process of the sandbox user; on a shared machine a uid of the
      // demo's own keeps it away from anything else that runs as nobody.
      EXECUTOR_SANDBOX_USER: process.env.EXECUTOR_SANDBOX_USER ?? '64999',
      ...(asRoot ? {} : { EXECUTOR_ALLOW_SHARED_USER: '1' }),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const executorExit = new Promise<number | null>((resolve) => executor.once('exit', (code) => resolve(code)));
  say(`started an executor (pid ${executor.pid}) reading ${stream}\n`);

  const client = new ExecutorClient({ redis: url, stream });
  try {
    for (const { title, task } of EXAMPLES) {
      say(`── ${title}`);
      const sub = await client.submit(task, {
        onStdout: (d) => process.stdout.write(indent(d, '  │ ')),
        onStderr: (d) => process.stdout.write(indent(d, '  ! ')),
        timeoutMs: 30_000,
      });
      const r = await sub.result;
      say(`  └ ${r.status} exit=${r.exitCode ?? '-'} signal=${r.signal ?? '-'} wall=${r.wallMs} ms cpu=${r.cpuMs} ms${r.error ? ` (${r.error})` : ''}\n`);
    }
  } finally {
    await client.close();
    executor.kill('SIGTERM');
    const code = await executorExit;
    say(`executor stopped (exit ${code})`);
    if (redis) {
      await redis.stop();
      say('private redis-server stopped');
    }
  }
}

function indent(data: Buffer, prefix: string): string {
  return data
    .toString()
    .split(/(?<=\n)/)
    .map((line) => prefix + line)
    .join('')
    .replace(/([^\n])$/, '$1\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
