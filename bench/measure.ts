// What the benchmark measures, one function each: latency through the executor, latency of the
// raw baseline (the interpreter spawned straight from Node), and how latencies are summarised.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { ExecutorClient, TaskInput } from 'agent-executor';

export interface Latency {
  firstByteMs: number;
  resultMs: number;
}

export interface Quantiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  n: number;
}

export function quantiles(xs: number[]): Quantiles {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => round(s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN);
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: round(s.at(-1) ?? NaN), n: s.length };
}

export const summarize = (xs: Latency[]) => ({ firstByteMs: quantiles(xs.map((x) => x.firstByteMs)), resultMs: quantiles(xs.map((x) => x.resultMs)) });

export const round = (x: number, digits = 2) => Number(x.toFixed(digits));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Queue -> first stdout byte and queue -> final result of one task, as its client sees them. */
export async function viaExecutor(client: ExecutorClient, task: TaskInput): Promise<Latency> {
  const t0 = performance.now();
  let first = NaN;
  const sub = await client.submit(task, { onStdout: () => (first = Number.isNaN(first) ? performance.now() - t0 : first) });
  const r = await sub.result;
  if (r.status !== 'ok') throw new Error(`bench task failed: ${r.status} ${r.error ?? ''}`);
  return { firstByteMs: first, resultMs: performance.now() - t0 };
}

/** The raw baseline: the same interpreter on the same file, spawned from Node with a clean environment. */
export async function raw(argv: string[], file: string, code: string, env: Record<string, string>): Promise<Latency> {
  fs.writeFileSync(file, code);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    let first = NaN;
    const child = spawn(argv[0]!, [...argv.slice(1), file], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', () => (first = Number.isNaN(first) ? performance.now() - t0 : first));
    child.once('error', reject);
    child.once('close', () => resolve({ firstByteMs: first, resultMs: performance.now() - t0 }));
  });
}

/** Queue -> first byte and queue -> result of `n` cells of one open session (after a warm-up). */
export async function sessionCells(client: ExecutorClient, runtime: 'python' | 'node', code: string, n: number, thinkMs: number): Promise<Latency[]> {
  const session = client.session({ runtime });
  const cell = async (): Promise<Latency> => {
    const t0 = performance.now();
    let first = NaN;
    const sub = await session.run(code, { onStdout: () => (first = Number.isNaN(first) ? performance.now() - t0 : first) });
    const r = await sub.result;
    if (r.status !== 'ok') throw new Error(`bench cell failed: ${r.status} ${r.error ?? ''}`);
    return { firstByteMs: first, resultMs: performance.now() - t0 };
  };
  try {
    for (let i = 0; i < 3; i++) await cell();
    const xs: Latency[] = [];
    for (let i = 0; i < n; i++) {
      await sleep(thinkMs);
      xs.push(await cell());
    }
    return xs;
  } finally {
    await session.close();
  }
}
