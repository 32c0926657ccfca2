// `npm run demo`: the whole loop on one machine. Starts a private redis-server when REDIS_URL is
// not set, starts an executor, runs a few snippets with their output streamed (a data analysis
// with a CSV in and a table and chart out, saved to ./demo-output; two hit a budget), and stops
// everything it started.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { artifactSaver, ExecutorClient, type TaskInput } from 'agent-executor';
import { startPrivateRedis, type PrivateRedis } from './redis-server.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const say = (line: string) => process.stdout.write(`${line}\n`);

// A data-analysis agent's typical call: a CSV in, a cleaned table and a chart out.
const SALES_CSV = 'region,month,amount\nnorth,jan,120\nsouth,jan,80\nnorth,feb,150\nsouth,feb,\nwest,feb,95\nnorth,mar,170\nsouth,mar,110\nwest,mar,130\n';
// A bar chart as a PNG, one bar per region, 40 px wide, height proportional to the total: drawn with
// the standard library only (zlib + struct), so it runs on any python3.
const BAR_CHART = String.raw`import struct, zlib
def bar_chart(totals):
    W, H, top = 40 * len(totals) + 10 * (len(totals) + 1), 120, max(totals.values())
    pixels = [[(255, 255, 255)] * W for _ in range(H)]
    for i, (region, total) in enumerate(sorted(totals.items())):
        x0, h = 10 + i * 50, int(100 * total / top)
        for y in range(H - h, H):
            for x in range(x0, x0 + 40):
                pixels[y][x] = (40, 90 + 50 * i, 200)
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")`;

const ANALYSIS = String.raw`import csv
rows = [r for r in csv.DictReader(open("data/sales.csv")) if r["amount"].strip()]
totals = {}
for r in rows:
    totals[r["region"]] = totals.get(r["region"], 0) + int(r["amount"])
with open("out/totals.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["region", "total"])
    for region, total in sorted(totals.items()):
        w.writerow([region, total])
${BAR_CHART}
open("out/totals.png", "wb").write(bar_chart(totals))
print(f"{len(rows)} rows kept, {len(totals)} regions:", ", ".join(f"{k}={v}" for k, v in sorted(totals.items())))`;

// The same analysis as a session, one step per cell: the state (the rows, the totals) stays in the
// interpreter between calls, as an agent iterating on its data expects; the chart comes back as an
// image/png display entry (an object with _repr_png_, as IPython shows it) and is saved from there.
const SESSION_CELLS: { title: string; code: string; files?: TaskInput['files'] }[] = [
  { title: 'cell 1: load the CSV', code: 'import csv\nrows = [r for r in csv.DictReader(open("data/sales.csv")) if r["amount"].strip()]\nlen(rows)', files: [{ path: 'data/sales.csv', content: SALES_CSV, encoding: 'utf8' }] },
  { title: 'cell 2: a summary of what cell 1 loaded', code: 'totals = {}\nfor r in rows:\n    totals[r["region"]] = totals.get(r["region"], 0) + int(r["amount"])\ntotals' },
  {
    title: 'cell 3: a chart of the totals, shown as a display',
    code: String.raw`${BAR_CHART}
class Chart:
    def _repr_png_(self):
        return bar_chart(totals)
    def __repr__(self):
        return f"<chart of {len(totals)} regions>"
Chart()`,
  },
];

const EXAMPLES: { title: string; task: TaskInput; saveTo?: string }[] = [
  {
    title: 'data analysis: a CSV in, a cleaned table and a PNG chart out',
    task: { runtime: 'python', code: ANALYSIS, files: [{ path: 'data/sales.csv', content: SALES_CSV, encoding: 'utf8' }] },
    saveTo: 'demo-output',
  },
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
  // The daemon's log goes to a file, so that it never interleaves with the snippets' output.
  const logFile = path.resolve('demo-output', 'executor.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const logFd = fs.openSync(logFile, 'w');
  const executor = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      ...process.env,
      REDIS_URL: url,
      EXECUTOR_STREAM: stream,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      // The sweep kills every process of the sandbox users; on a shared machine uids of the
      // demo's own keep it away from any other executor's.
      EXECUTOR_SANDBOX_USER: process.env.EXECUTOR_SANDBOX_USER ?? '64999',
      ...(asRoot ? {} : { EXECUTOR_ALLOW_SHARED_USER: '1' }),
    },
    stdio: ['ignore', logFd, logFd],
  });
  fs.closeSync(logFd);
  const executorExit = new Promise<number | null>((resolve) => executor.once('exit', (code) => resolve(code)));
  say(`started an executor (pid ${executor.pid}) reading ${stream}; its log: ${path.relative(process.cwd(), logFile)}\n`);

  const client = new ExecutorClient({ redis: url, stream });
  try {
    for (const { title, task, saveTo } of EXAMPLES) {
      say(`── ${title}`);
      const sub = await client.submit(task, {
        onStdout: (d) => process.stdout.write(indent(d, '  │ ')),
        onStderr: (d) => process.stdout.write(indent(d, '  ! ')),
        ...(saveTo ? { onFile: artifactSaver(saveTo) } : {}),
        timeoutMs: 30_000,
      });
      const r = await sub.result;
      for (const a of r.artifacts ?? []) say(`  ↳ ${a.included ? `saved ${path.join(saveTo ?? '.', a.path)}` : `left out ${a.path}: ${a.reason}`} (${a.bytes} bytes)`);
      say(`  └ ${r.status} exit=${r.exitCode ?? '-'} signal=${r.signal ?? '-'} wall=${r.wallMs} ms cpu=${r.cpuMs} ms${r.error ? ` (${r.error})` : ''}\n`);
    }
    await sessionDemo(client);
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

async function sessionDemo(client: ExecutorClient): Promise<void> {
  say('── a session: one interpreter kept across calls');
  const session = client.session({ runtime: 'python' });
  try {
    for (const { title, code, files } of SESSION_CELLS) {
      say(`  ${title}`);
      const sub = await session.run(code, {
        ...(files ? { files } : {}),
        onStdout: (d) => process.stdout.write(indent(d, '  │ ')),
        onStderr: (d) => process.stdout.write(indent(d, '  ! ')),
        onDisplay: (e) => {
          if (e.mime === 'text/plain') process.stdout.write(indent(e.data, '  = '));
          if (e.mime === 'image/png') {
            const file = path.join('demo-output', 'session-chart.png');
            fs.writeFileSync(file, e.data);
            say(`  ↳ image/png display saved to ${file} (${e.data.length} bytes)`);
          }
        },
        timeoutMs: 30_000,
      });
      const r = await sub.result;
      say(`  └ ${r.status} cell=${r.session?.cell ?? '-'} wall=${r.wallMs} ms cpu=${r.cpuMs} ms${r.error ? ` (${r.error})` : ''}`);
    }
  } finally {
    await session.close();
    say(`  session ${session.id} closed: its interpreter and files are gone\n`);
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
