// What a task brings is the task's problem: through the real daemon, a task whose declared inputs
// cannot be honoured (a file name too long, a body too large, an exec string too long, fewer
// descriptors than an interpreter needs to start) is answered `rejected` — the same for every
// runtime, warm standby or not — and the executor goes on. And the executor's claim to run under
// gVisor rests on nothing a snippet can write.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MIN_OPEN_FILES } from '../../src/protocol/result.js';
import { DaemonProcess, daemonEnv } from '../helpers/daemon.js';
import { connect, needsRoot, sandboxUid, unique, waitFor } from '../helpers/env.js';
import { exitResult, field, output, readUntilExit } from '../helpers/results.js';

const redis = connect();
const daemons: DaemonProcess[] = [];

afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()));
});
afterAll(() => redis.quit());

function startDaemon(env: Record<string, string> = {}): { daemon: DaemonProcess; stream: string; dead: string } {
  const stream = unique('admit');
  const dead = unique('dead');
  const daemon = new DaemonProcess(daemonEnv({ stream, uid: sandboxUid(3) }, { EXECUTOR_DEAD_STREAM: dead, ...env }));
  daemons.push(daemon);
  return { daemon, stream, dead };
}

async function submit(stream: string, task: Record<string, unknown>): Promise<{ id: string; result: Record<string, unknown>; types: string[]; stdout: string }> {
  const id = unique('t');
  await redis.xadd(stream, '*', 'task', JSON.stringify({ id, ...task }));
  const entries = await readUntilExit(redis, id, 30_000);
  return { id, result: exitResult(entries), types: entries.map((e) => field(e, 'type')), stdout: output(entries, 'stdout').toString() };
}

/** Peak resident memory of a process (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

describe.skipIf(needsRoot.skip)(`admission through the daemon ${needsRoot.reason}`, () => {
  it('rejects a file path segment over 255 bytes and keeps serving (it used to exit 3, "dirty")', async () => {
    const d = startDaemon();
    await d.daemon.waitForLog('executor started');
    const long = await submit(d.stream, { runtime: 'bash', code: 'echo ran', files: [{ path: `data/${'a'.repeat(256)}.csv`, content: 'x' }] });
    expect(long.types).toEqual(['exit']);
    expect(long.result).toMatchObject({ status: 'rejected', error: expect.stringMatching(/files\[0\]\.path ".*" must have segments of at most 255 bytes/) });
    // 255 bytes is a legal name: written, and the snippet sees it.
    const ok = await submit(d.stream, { runtime: 'bash', code: 'ls data', files: [{ path: `data/${'é'.repeat(127)}a`, content: 'x' }] });
    expect(ok.result).toMatchObject({ status: 'ok' });
    expect(ok.stdout).toBe(`${'é'.repeat(127)}a\n`);
    expect(d.daemon.logs.some((l) => l.msg === 'sandbox is dirty after the run; stopping')).toBe(false);
  });

  it('rejects openFiles below what every runtime needs to start, naming the minimum, warm standby or not', async () => {
    const d = startDaemon();
    await d.daemon.waitForLog('executor started');
    for (const runtime of ['bash', 'python', 'node']) {
      const low = await submit(d.stream, { runtime, code: runtime === 'node' ? 'console.log(1)' : runtime === 'python' ? 'print(1)' : 'echo 1', limits: { openFiles: MIN_OPEN_FILES - 1 } });
      expect(low.result).toMatchObject({ status: 'rejected', error: `limits.openFiles: ${MIN_OPEN_FILES - 1} is below ${MIN_OPEN_FILES}, the fewest descriptors with which every runtime's launcher and interpreter can start` });
      const least = await submit(d.stream, { runtime, code: runtime === 'node' ? 'console.log(1)' : runtime === 'python' ? 'print(1)' : 'echo 1', limits: { openFiles: MIN_OPEN_FILES } });
      expect([runtime, least.result.status, least.stdout]).toEqual([runtime, 'ok', '1\n']);
    }
  });

  it('rejects an env value or an arg too long for one exec string, for every runtime, warm standby or not', async () => {
    const d = startDaemon();
    await d.daemon.waitForLog('executor started');
    const big = 'x'.repeat(200 * 1024);
    for (const runtime of ['bash', 'python', 'node']) {
      const env = await submit(d.stream, { runtime, code: 'true', env: { BIG: big } });
      expect(env.result).toMatchObject({ status: 'rejected', error: expect.stringMatching(/^env\.BIG: BIG=\.\.\. is 204804 bytes, over 131071, the kernel's limit for one exec string \(MAX_ARG_STRLEN\)/) });
      const arg = await submit(d.stream, { runtime, code: 'true', args: ['small', big] });
      expect(arg.result).toMatchObject({ status: 'rejected', error: expect.stringMatching(/^args\.1: 204800 bytes, over 131071/) });
    }
    // The largest single string that fits runs, through a fresh start (bash has no standby).
    const edge = 'y'.repeat(131_071 - 'EDGE='.length);
    const fits = await submit(d.stream, { runtime: 'bash', code: 'echo ${#EDGE} ${#1}', env: { EDGE: edge }, args: ['z'.repeat(131_071)] });
    expect([fits.result.status, fits.stdout]).toEqual(['ok', `${edge.length} 131071\n`]);
    // Together they must fit one exec as well: 20 strings of 120 KiB cannot.
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`V${i}`, 'v'.repeat(120 * 1024)]));
    const total = await submit(d.stream, { runtime: 'python', code: 'pass', env: many });
    expect(total.result).toMatchObject({ status: 'rejected', error: expect.stringMatching(/^env and args: .* bytes, over the .* bytes one exec can carry/) });
  });

  it('rejects a task entry over EXECUTOR_TASK_BYTES before parsing it, dead-letters one without a usable id by its size', async () => {
    const d = startDaemon({ EXECUTOR_TASK_BYTES: String(1024 * 1024) });
    await d.daemon.waitForLog('executor started');
    const over = await submit(d.stream, { runtime: 'python', code: 'print(1)', stdin: 's'.repeat(1024 * 1024) });
    expect(over.types).toEqual(['exit']);
    expect(over.result).toMatchObject({ status: 'rejected', error: expect.stringMatching(/^task is 10\d{5} bytes, over the cap of 1048576 bytes \(EXECUTOR_TASK_BYTES\)$/) });
    // The id after 1 MiB of code is past any bounded scan: nobody to answer, so dead-lettered.
    const hidden = unique('hidden');
    const body = JSON.stringify({ runtime: 'python', code: `#${'c'.repeat(1024 * 1024)}`, id: hidden });
    await redis.xadd(d.stream, '*', 'task', body, 'note', 'kept');
    const dead = await waitFor('the dead-letter copy', async () => (await redis.xrange(d.dead, '-', '+'))[0]);
    const fields = Object.fromEntries(dead[1].flatMap((v, i, a) => (i % 2 === 0 ? [[v, a[i + 1]]] : [])));
    expect(fields).toMatchObject({ reason: expect.stringMatching(/^unusable task: task is \d+ bytes, over the cap/), taskBytes: String(Buffer.byteLength(body)), note: 'kept' });
    expect(fields.task).toBeUndefined();
    expect(await redis.exists(`executor:results:${hidden}`)).toBe(0);
    const after = await submit(d.stream, { runtime: 'bash', code: 'echo still here' });
    expect(after.stdout).toBe('still here\n');
  });

  it('a 200 MB stdin task is rejected by the default cap without the daemon holding it more than once', async () => {
    const d = startDaemon({ EXECUTOR_STANDBY: 'none' });
    await d.daemon.waitForLog('executor started');
    // Warm up the paths a task takes, then measure the peak from there.
    await submit(d.stream, { runtime: 'bash', code: 'true' });
    const before = peakRss(d.daemon.pid);
    const huge = await submit(d.stream, { runtime: 'bash', code: 'wc -c', stdin: 'i'.repeat(200 * 1000 * 1000) });
    const growth = peakRss(d.daemon.pid) - before;
    console.log(`daemon peak RSS growth for a 200 MB stdin task: ${(growth / 1024 ** 2).toFixed(0)} MiB`);
    expect(huge.result).toMatchObject({ status: 'rejected', error: expect.stringMatching(/over the cap of 20971520 bytes \(EXECUTOR_TASK_BYTES\)/) });
    // The entry arrives from Redis whole (it cannot be read in part): one copy, not a decoded
    // string beside it and a parsed one beside that.
    expect(growth).toBeLessThan(450 * 1024 ** 2);
  }, 120_000);

  it('is not fooled into reporting gVisor by a kernel log a snippet can write into', async () => {
    // A snippet natively writes "gVisor" into the host's kernel log by naming a process gVisor
    // and letting it segfault. Faked here with a dmesg on PATH, so this machine's log is not
    // polluted for everyone else.
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-dmesg-'));
    fs.writeFileSync(path.join(bin, 'dmesg'), '#!/bin/sh\necho "[ 1.0] Starting gVisor..."\necho "[ 2.0] gVisor[4242]: segfault at 0 ip 0 sp 0 error 4"\n', { mode: 0o755 });
    try {
      const d = startDaemon({ PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, EXECUTOR_REQUIRE_GVISOR: '1' });
      const outcome = await Promise.race([d.daemon.exited.then((e) => `exited ${e.code}`), d.daemon.waitForLog('executor started').then((l) => `started, sandbox ${String(l.sandbox)}`, () => new Promise<string>(() => undefined))]);
      expect(outcome).toBe('exited 1');
      expect(d.daemon.stderr.join('\n') + JSON.stringify(d.daemon.logs)).toMatch(/gVisor/);
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });
});
