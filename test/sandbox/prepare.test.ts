import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { resolveSandboxIdentity } from '../../src/sandbox/identity.js';
import { prepareSandbox } from '../../src/sandbox/prepare.js';
import { needsRoot } from '../helpers/env.js';
import { testSandboxConfig } from '../helpers/run.js';

describe.skipIf(needsRoot.skip)(`sandbox preparation ${needsRoot.reason}`, () => {
  it('detects that it is not running under gVisor here and refuses when gVisor is required', async () => {
    const sandbox = await prepareSandbox(testSandboxConfig, createLogger('silent'));
    expect(sandbox.capabilities.sandbox).toBe('none');
    await expect(prepareSandbox({ ...testSandboxConfig, requireGvisor: true }, createLogger('silent'))).rejects.toThrow(
      /EXECUTOR_REQUIRE_GVISOR=1 but this executor is not running under gVisor/,
    );
  });

  it('refuses a work folder that the private /tmp would hide', async () => {
    await expect(prepareSandbox({ ...testSandboxConfig, workDir: '/tmp/runs' }, createLogger('silent'))).rejects.toThrow(
      /EXECUTOR_WORK_DIR=\/tmp\/runs is inside \/tmp/,
    );
  });

  it('resolves the sandbox user by name, uid or uid:gid, and never to root', () => {
    expect(resolveSandboxIdentity({ sandboxUser: 'nobody', allowSharedUser: false })).toMatchObject({ mode: 'dedicated', uid: 65534 });
    expect(resolveSandboxIdentity({ sandboxUser: '1234:5678', allowSharedUser: false })).toMatchObject({ uid: 1234, gid: 5678 });
    expect(() => resolveSandboxIdentity({ sandboxUser: 'root', allowSharedUser: false })).toThrow(/is root/);
    expect(() => resolveSandboxIdentity({ sandboxUser: 'no-such-user-x', allowSharedUser: false })).toThrow(/no such user/);
  });
});
