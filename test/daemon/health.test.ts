// Health, readiness and metrics over HTTP, from a real daemon.
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/redis-server.js';
import { DaemonProcess, daemonEnv } from '../helpers/daemon.js';
import { connect, needsRoot, sandboxUid, unique, waitFor } from '../helpers/env.js';
import { waitForExit } from '../helpers/results.js';

const daemons: DaemonProcess[] = [];
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()));
});

const get = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
};

function daemon(stream: string, env: Record<string, string> = {}): DaemonProcess {
  const d = new DaemonProcess(daemonEnv({ stream, uid: sandboxUid(9) }, { EXECUTOR_BLOCK_MS: '300', ...env }));
  daemons.push(d);
  return d;
}

describe.skipIf(needsRoot.skip)(`health and metrics ${needsRoot.reason}`, () => {
  const redis = connect();

  it('serves /healthz and /metrics matching the runs done, and /readyz flips during drain', async () => {
    const port = await freePort();
    const stream = unique('tasks');
    const d = daemon(stream, { EXECUTOR_HTTP_PORT: String(port), EXECUTOR_MAX_RUNS: '10', EXECUTOR_RECYCLE_JITTER: '0' });
    await d.waitForLog('health and metrics listening');
    expect(await get(port, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    await waitFor('ready', async () => ((await get(port, '/readyz')).status === 200 ? true : undefined));

    const ids = [unique('a'), unique('b'), unique('c')];
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id: ids[0], runtime: 'bash', code: 'echo one' }));
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id: ids[1], runtime: 'bash', code: 'echo two' }));
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id: ids[2], runtime: 'python', code: 'raise SystemExit(4)' }));
    for (const id of ids) await waitForExit(redis, id);
    const metrics = (await get(port, '/metrics')).body;
    expect(metrics).toMatch(/^executor_runs_total\{runtime="bash",status="ok"\} 2$/m);
    expect(metrics).toMatch(/^executor_runs_total\{runtime="python",status="error"\} 1$/m);
    expect(metrics).toMatch(/^executor_runs_left 7$/m);
    expect(metrics).toMatch(/^executor_output_bytes_total\{stream="stdout"\} 8$/m);
    expect(metrics).toMatch(/^executor_gvisor 0$/m);
    expect(metrics).toMatch(/^executor_queue_wait_seconds_count 3$/m);

    // Drain with a run in hand: not ready at once, the run still finishes, then the exit.
    const inHand = unique('inhand');
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id: inHand, runtime: 'bash', code: 'echo go; sleep 1; echo done' }));
    await waitFor('the run to start', async () => ((await redis.xlen(`executor:results:${inHand}`)) >= 2 ? true : undefined));
    d.signal('SIGTERM');
    await waitFor('not ready while draining', async () => ((await get(port, '/readyz')).status === 503 ? true : undefined));
    expect(JSON.parse((await waitForExit(redis, inHand)).find((e) => e.type === 'exit')!.result!)).toMatchObject({ status: 'ok' });
    expect(await d.exited).toEqual({ code: 0, signal: null });
  });

  it('on a second SIGTERM aborts the run in hand, reports it, and exits', async () => {
    const stream = unique('tasks');
    const d = daemon(stream);
    const id = unique('aborted');
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'bash', code: 'echo go; sleep 30' }));
    await waitFor('the run to start', async () => ((await redis.xlen(`executor:results:${id}`)) >= 2 ? true : undefined));
    d.signal('SIGTERM');
    await d.waitForLog('draining: no new tasks; finishing the run in hand');
    d.signal('SIGTERM');
    const exit = (await waitForExit(redis, id)).find((e) => e.type === 'exit')!;
    expect(JSON.parse(exit.result!)).toMatchObject({ status: 'internal_error', error: 'the executor was shut down during the run' });
    expect(await d.exited).toEqual({ code: 0, signal: null });
  });
});
