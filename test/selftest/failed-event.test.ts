// A failed hostile check is a security event: `agent-executor selftest` exits non-zero and logs
// `selftest.failed` (stderr, JSON) with the check's name, so an alert can key on it.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/daemon.js';
import { needsRoot, sandboxUid } from '../helpers/env.js';

const run = promisify(execFile);
const UID = sandboxUid(18);
const workDir = `/var/lib/agent-executor-test/selftest-${UID}`;

afterAll(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
});

describe.skipIf(needsRoot.skip)(`selftest.failed ${needsRoot.reason}`, () => {
  it('logs the event for a check that fails (output capped below what the check expects)', async () => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', EXECUTOR_SANDBOX_USER: String(UID), EXECUTOR_WORK_DIR: workDir, EXECUTOR_OUTPUT_BYTES: '1000' };
    const failed = await run(process.execPath, [BIN, 'selftest', '--only', 'output-flood-one-line'], { env, timeout: 60_000 }).then(
      () => undefined,
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toMatch(/^FAIL output-flood-one-line: /m);
    const events = failed!.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.filter((e) => e.event === 'selftest.failed')).toEqual([expect.objectContaining({ check: 'output-flood-one-line', severity: 'ERROR' })]);
  }, 90_000);
});
