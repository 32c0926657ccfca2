// The raw baseline on its own: `node build/bench/raw.js <n> <dir>` spawns python3 and node n times
// each (clean environment, no Redis, no sandbox) and prints their latencies as JSON. The benchmark
// calls it directly, and inside gVisor for that case.
import os from 'node:os';
import path from 'node:path';
import { raw, summarize, type Latency } from './measure.js';

export const TRIVIAL = {
  python: { code: 'print(1)', file: 'main.py', argv: ['python3', '-u', '-B'] },
  node: { code: 'console.log(1)', file: 'main.js', argv: ['node'] },
} as const;

export async function rawBaseline(n: number, dir: string): Promise<Record<keyof typeof TRIVIAL, ReturnType<typeof summarize>>> {
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: os.tmpdir(), LANG: 'C.UTF-8' };
  const out: Partial<Record<keyof typeof TRIVIAL, ReturnType<typeof summarize>>> = {};
  for (const [name, c] of Object.entries(TRIVIAL) as [keyof typeof TRIVIAL, (typeof TRIVIAL)[keyof typeof TRIVIAL]][]) {
    const xs: Latency[] = [];
    for (let i = 0; i < n; i++) xs.push(await raw([...c.argv], path.join(dir, c.file), c.code, env));
    out[name] = summarize(xs);
  }
  return out as Record<keyof typeof TRIVIAL, ReturnType<typeof summarize>>;
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const [n, dir] = [Number(process.argv[2] ?? 200), process.argv[3] ?? os.tmpdir()];
  rawBaseline(n, dir).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? err}\n`);
      process.exitCode = 1;
    },
  );
}
