// The three session kernels as real processes, driven through the executor's own KernelLink but
// outside any sandbox (the daemon tests run them sandboxed): state across cells, displays, errors,
// SIGINT to the foreground interrupting a cell and keeping the state, stdin, the channel variable
// gone, exit codes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { DISPLAY_BACKENDS_DIR, SESSION_KERNELS_DIR } from '../../src/runtimes/load.js';
import { KernelLink, type KernelEvent } from '../../src/session/kernel-link.js';
import { DEBIAN_PYTHON, hasMatplotlib } from '../helpers/env.js';

const COMMANDS: Record<string, string[]> = {
  python: ['python3', '-u', '-B', path.join(SESSION_KERNELS_DIR, 'python/kernel.py')],
  node: [process.execPath, '--expose-internals', path.join(SESSION_KERNELS_DIR, 'node/kernel.cjs')],
  bash: ['bash', '--noprofile', '--norc', path.join(SESSION_KERNELS_DIR, 'bash/kernel.sh')],
};
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));


// The python profile's display variables (docs/display.md), as a session gets them.
const DISPLAY_ENV = { MPLBACKEND: 'module://executor_display_backend', PYTHONPATH: path.join(DISPLAY_BACKENDS_DIR, 'python') };

async function kernel(runtime: string, interpreter?: string, env: Record<string, string> = {}) {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'kernel-'));
  dirs.push(cwd);
  const [cmd, ...args] = COMMANDS[runtime]!;
  const argv0 = interpreter ?? cmd;
  // Its own process group, as under the launcher: an interrupt goes to the whole foreground.
  const child = spawn(argv0!, args, { cwd, detached: true, stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, EXECUTOR_SESSION_FD: '3', ...env } });
  child.stdin.end();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let events: KernelEvent[] = [];
  const link = new KernelLink({ stdout: child.stdout as Readable, stderr: child.stderr as Readable, channel: child.stdio[3] as never }, (e) => events.push(e));
  await link.ready;
  let n = 0;
  const run = async (code: string, o: { stdin?: string; interruptAfterMs?: number } = {}) => {
    events = [];
    const timer = o.interruptAfterMs === undefined ? undefined : setTimeout(() => process.kill(-child.pid!, 'SIGINT'), o.interruptAfterMs);
    const status = await link.run({ cell: ++n, code, stdin: o.stdin }).finally(() => clearTimeout(timer));
    const text = (s: string) => events.filter((e) => e.kind === 'output' && e.stream === s).map((e) => (e as { data: Buffer }).data.toString()).join('');
    const displays = events.filter((e) => e.kind === 'display').map((e) => `${(e as { mime: string }).mime}:${(e as { data: Buffer }).data}`);
    // Output and displays in their order, consecutive output chunks joined (a pipe splits them anywhere).
    const order: string[] = [];
    events.forEach((e, i) => {
      if (e.kind === 'display') order.push(e.mime);
      else if (e.kind === 'output' && events[i - 1]?.kind === 'output') order[order.length - 1] += e.data.toString();
      else if (e.kind === 'output') order.push(e.data.toString());
    });
    return { status, stdout: text('stdout'), stderr: text('stderr'), displays, order };
  };
  return { run, link, exited, kill: () => process.kill(-child.pid!, 'SIGKILL') };
}

describe('session kernels', () => {
  it('python: state, displays, errors without kernel frames, interrupt, stdin, exit code', async () => {
    const k = await kernel('python');
    expect(await k.run('import os\nx = 41\ndef f(v):\n    return v + 1')).toMatchObject({ status: 'ok' });
    expect(await k.run('print("EXECUTOR_SESSION_FD" in os.environ)\nf(x)')).toMatchObject({ stdout: 'False\n', displays: ['text/plain:42'] });
    const err = await k.run('1 / 0');
    expect(err.status).toBe('error');
    expect(err.stderr).toMatch(/File "<cell 3>", line 1[\s\S]*ZeroDivisionError/);
    expect(err.stderr).not.toMatch(/kernel\.py/);
    const spin = await k.run('while True:\n    pass', { interruptAfterMs: 300 });
    expect(spin.status).toBe('interrupted');
    expect(spin.stderr).toMatch(/KeyboardInterrupt/);
    expect(spin.stderr).not.toMatch(/kernel\.py/);
    expect(await k.run('import sys\nprint(sys.stdin.read(), x)', { stdin: 'in' })).toMatchObject({ status: 'ok', stdout: 'in 41\n' });
    await k.run('raise SystemExit(3)').catch(() => undefined);
    expect(await k.exited).toBe(3);
  });

  it.skipIf(!hasMatplotlib)(`python: matplotlib figures as image/png, on plt.show() and still open at the end of a cell${hasMatplotlib ? '' : ' (skipped: no matplotlib for /usr/bin/python3)'}`, async () => {
    const k = await kernel('python', DEBIAN_PYTHON, DISPLAY_ENV);
    const shown = await k.run('import matplotlib.pyplot as plt\nprint("before")\nplt.plot([1, 2, 3])\nplt.show()\nprint("after")');
    expect(shown.status).toBe('ok');
    // Shown by plt.show() itself, in its place: not only when the cell ends.
    expect(shown.order).toEqual(['before\n', 'image/png', 'text/plain', 'after\n']);
    const open = await k.run('plt.figure()\nplt.bar([1, 2], [3, 4])\nNone');
    expect(open.displays.filter((d) => d.startsWith('image/png:')).length).toBe(1);
    expect((await k.run('len(plt.get_fignums())')).displays).toEqual(['text/plain:0']);
    k.kill();
  });

  it('node: let/const/functions across cells, top-level await, interrupting a loop and an await', async () => {
    const k = await kernel('node');
    await k.run('const a = 20; let b = 1; function g() { return a + b; }');
    expect(await k.run('b += 1; await new Promise((r) => setTimeout(r, 10)); g()')).toMatchObject({ status: 'ok', displays: ['text/plain:22'] });
    expect((await k.run('for (;;) {}', { interruptAfterMs: 300 })).status).toBe('interrupted');
    expect((await k.run('await new Promise(() => {})', { interruptAfterMs: 300 })).status).toBe('interrupted');
    expect(await k.run('process.env.EXECUTOR_SESSION_FD === undefined && g()')).toMatchObject({ displays: ['text/plain:22'] });
    const err = await k.run('function h() { throw new Error("boom"); }\nh()');
    expect(err.status).toBe('error');
    expect(err.stderr).toMatch(/Error: boom\n\s+at h \(cell-6/);
    expect(err.stderr).not.toMatch(/kernel\.cjs|node:vm/);
    await k.run('process.exit(4)').catch(() => undefined);
    expect(await k.exited).toBe(4);
  });

  it('bash: cwd, variables, functions and jobs persist; an interrupt stops the foreground and the rest of the cell', async () => {
    const k = await kernel('bash');
    await k.run('mkdir -p sub && cd sub && V=7 && declare -a A=(1 2) && hi() { echo "hi $1"; }');
    expect(await k.run('hi "$V"; basename "$PWD"; echo "${A[1]}" "${EXECUTOR_SESSION_FD-unset}"')).toMatchObject({ status: 'ok', stdout: 'hi 7\nsub\n2 unset\n' });
    const slept = await k.run('echo a; sleep 30; echo not-reached', { interruptAfterMs: 300 });
    expect(slept).toMatchObject({ status: 'interrupted', stdout: 'a\n' });
    const nested = await k.run('f() { while :; do :; done; echo no; }; f; echo no2', { interruptAfterMs: 300 });
    expect(nested).toMatchObject({ status: 'interrupted', stdout: '' });
    expect(await k.run('false')).toMatchObject({ status: 'error' });
    expect(await k.run('cat', { stdin: 'in!' })).toMatchObject({ stdout: 'in!' });
    await k.run('(sleep 0.2; echo from-the-job) & job=$!');
    expect(await k.run('wait "$job"; echo "$V"')).toMatchObject({ stdout: 'from-the-job\n7\n' });
    await k.run('exit 5').catch(() => undefined);
    expect(await k.exited).toBe(5);
  });
});
