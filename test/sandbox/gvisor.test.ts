// The isolation suite with the executor inside real gVisor: `agent-executor selftest` under runsc,
// and the daemon under runsc serving tasks from a Redis on 127.0.0.1.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SELFTEST_CHECKS } from '../../src/selftest/runner.js';
import { BIN } from '../helpers/daemon.js';
import { connect, redisUrl, sandboxUid, unique } from '../helpers/env.js';
import { gvisorAvailable, runInGvisor } from '../helpers/gvisor.js';
import { exitResult, field, output, readUntilExit } from '../helpers/results.js';

const repo = path.resolve(path.dirname(BIN), '../..');

describe.skipIf(gvisorAvailable.skip)(`under gVisor (runsc) ${gvisorAvailable.reason}`, () => {
  it('passes the hostile selftest', async () => {
    const r = await runInGvisor([process.execPath, BIN, 'selftest'], { EXECUTOR_SANDBOX_USER: String(sandboxUid(5)) }, repo, 240_000);
    expect(r.stdout).toMatch(/^sandbox: gvisor;/m);
    expect(r.stdout).toContain(`${SELFTEST_CHECKS.length} passed, 0 failed`);
    expect(r.code).toBe(0);
  }, 300_000);

  it('serves tasks from Redis and says so in the started event', async () => {
    const redis = connect();
    const stream = unique('gvisor-tasks');
    const py = unique('gv-py');
    const js = unique('gv-node');
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id: py, runtime: 'python', code: 'import os\nprint("py", os.getuid())' }));
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id: js, runtime: 'node', code: 'console.log("node", process.version.startsWith("v"))' }));
    const daemon = runInGvisor(
      [process.execPath, BIN, 'serve'],
      { REDIS_URL: redisUrl(), EXECUTOR_STREAM: stream, EXECUTOR_MAX_RUNS: '2', EXECUTOR_SANDBOX_USER: String(sandboxUid(6)), EXECUTOR_REQUIRE_GVISOR: '1' },
      repo,
      120_000,
    );
    const pyEntries = await readUntilExit(redis, py, 90_000);
    const jsEntries = await readUntilExit(redis, js, 30_000);
    const finished = await daemon;
    expect(field(pyEntries[0]!, 'sandbox')).toBe('gvisor');
    // python is the third runtime in name order (bash, node, python): uid + 2.
    expect(output(pyEntries, "stdout").toString(), JSON.stringify(exitResult(pyEntries)) + output(pyEntries, "stderr").toString() + finished.stdout.slice(-3000)).toBe(`py ${sandboxUid(6) + 2}\n`);
    expect(output(jsEntries, "stdout").toString(), JSON.stringify(exitResult(jsEntries)) + output(jsEntries, "stderr").toString() + finished.stdout.slice(-3000)).toBe("node true\n");
    expect(exitResult(jsEntries)).toMatchObject({ status: 'ok', sweep: { clean: true } });
    expect(finished.code).toBe(0);
    await redis.quit();
  }, 150_000);
});
