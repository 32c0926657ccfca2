import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import fs from 'node:fs';
import { identitiesByRuntime, resolveSandboxIdentity } from '../../src/sandbox/identity.js';
import { prepareSandbox } from '../../src/sandbox/prepare.js';
import { needsRoot } from '../helpers/env.js';
import { testSandboxConfig } from '../helpers/run.js';

describe.skipIf(needsRoot.skip)(`sandbox preparation ${needsRoot.reason}`, () => {
  it('detects that it is not running under gVisor here and refuses when gVisor is required', async () => {
    const sandbox = await prepareSandbox(testSandboxConfig, createLogger('silent'));
    expect(sandbox.capabilities.kind).toBe('none');
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

  it('gives each runtime its own uid and gid, and refuses ids that belong to someone else', () => {
    const base = { mode: 'dedicated' as const, uid: 62990, gid: 62990, name: '62990' };
    const ids = identitiesByRuntime(base, ['python', 'bash', 'node']);
    expect([...ids].map(([name, [id]]) => [name, id!.uid, id!.gid])).toEqual([
      ['bash', 62990, 62990],
      ['node', 62991, 62991],
      ['python', 62992, 62992],
    ]);
    // Two standby slots: slot j of runtime i is base + i + R·j.
    const slotted = identitiesByRuntime(base, ['python', 'bash', 'node'], 2);
    expect([...slotted].map(([name, slots]) => [name, slots.map((id) => id.uid)])).toEqual([
      ['bash', [62990, 62993]],
      ['node', [62991, 62994]],
      ['python', [62992, 62995]],
    ]);
    // The 16-bit "no user" (65535) is never handed out.
    expect(() => identitiesByRuntime({ ...base, uid: 65534, gid: 65534, name: 'nobody' }, ['a', 'b'])).toThrow(/would be uid 65535/);

    // gid + 1 landing on an existing group of this machine (a real one, with files of its own).
    const [group, , gid] = fs.readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':')).find((f) => Number(f[2]) > 1)!;
    expect(() => identitiesByRuntime({ ...base, gid: Number(gid) - 1 }, ['a', 'b'])).toThrow(new RegExp(`group ${gid}, which is "${group}"`));
    // With two slots the second slot's ids are checked too: two runtimes take gid + 1..3, and only
    // the last lands on an existing group.
    const taken = new Map(fs.readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':')).filter((f) => f[2]).map((f) => [Number(f[2]), f[0]!]));
    const g = [...taken.keys()].find((id) => id > 3 && !taken.has(id - 1) && !taken.has(id - 2))!;
    expect(() => identitiesByRuntime({ ...base, gid: g - 3 }, ['a', 'b'])).not.toThrow();
    expect(() => identitiesByRuntime({ ...base, gid: g - 3 }, ['a', 'b'], 2)).toThrow(new RegExp(`group ${g}, which is "${taken.get(g)}"`));
  });
});
