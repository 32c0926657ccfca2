// Run one snippet through the same run code the daemon uses, with no Redis: output is collected
// in order, as the results stream would receive it.
import { createLogger } from '../../src/log.js';
import type { OutputKind } from '../../src/output/coalescer.js';
import type { EffectiveLimits } from '../../src/protocol/result.js';
import { executeRun, type RunReport } from '../../src/run/run.js';
import { loadRuntimes } from '../../src/runtimes/load.js';
import type { RuntimeProfile } from '../../src/runtimes/schema.js';
import type { SandboxIdentity } from '../../src/sandbox/identity.js';
import { prepareSandbox, type PreparedSandbox } from '../../src/sandbox/prepare.js';
import type { RunContext } from '../../src/sandbox/types.js';
import type { Task } from '../../src/task/schema.js';
import { sandboxUid } from './env.js';

export const runtimes = loadRuntimes();

/** The settings the run tests use; a folder and a sandbox uid of this worker's own. */
export const testSandboxConfig = {
  sandboxUser: String(sandboxUid()),
  allowSharedUser: false,
  requireGvisor: false,
  network: 'none' as const,
  privateDirs: ['/tmp', '/var/tmp', '/dev/shm', '/run/lock'],
  // Discovery walks every read-write mount (seconds on a big host); the tests name the places.
  sweepDirs: ['/tmp', '/var/tmp', '/dev/shm', '/run/lock'],
  workDir: `/var/lib/agent-executor-test/w${sandboxUid()}`,
  tmpBytes: 16 * 1024 ** 2,
  addressSpaceBytes: 4 * 1024 ** 3,
  sandboxPath: '/usr/local/bin:/usr/bin:/bin',
  killGraceMs: 200,
  cpuSampleMs: 50,
  artifactFiles: 64,
  artifactBytes: 10 * 1024 ** 2,
  artifactList: 1000,
  deliveryTimeoutMs: 30_000,
};

let prepared: Promise<PreparedSandbox> | undefined;
/** Prepared once per test file, the same way `serve` prepares it (needs root). */
export function testSandbox(): Promise<PreparedSandbox> {
  prepared ??= prepareSandbox(testSandboxConfig, createLogger('silent'));
  return prepared;
}
export const identity: SandboxIdentity = { mode: 'dedicated', uid: sandboxUid(), gid: sandboxUid(), name: 'test' };
export const DEFAULT_LIMITS: EffectiveLimits = {
  wallMs: 10_000,
  cpuMs: 5_000,
  outputBytes: 1_048_576,
  memoryBytes: 256 * 1024 ** 2,
  processes: 64,
  openFiles: 256,
  fileSizeBytes: 16 * 1024 ** 2,
};

export interface Collected extends RunReport {
  chunks: [OutputKind, Buffer][];
  files: { path: string; data: Buffer; part: number; parts: number }[];
  stdout: Buffer;
  stderr: Buffer;
}

export async function runSnippet(
  runtime: string,
  code: string,
  opts: Partial<Omit<Task, 'runtime' | 'code'>> & {
    limits?: Partial<EffectiveLimits>;
    onOutput?: (kind: OutputKind, data: Buffer) => void;
    /** Called with each artifact part as it arrives, while the run still collects the rest. */
    onArtifact?: (path: string) => void;
    signal?: AbortSignal;
    cancel?: AbortSignal;
    artifactCaps?: { artifactFiles?: number; artifactBytes?: number };
    identity?: SandboxIdentity;
    profile?: RuntimeProfile;
    /** Overrides of the prepared run context (extra sweep places, say). */
    environment?: Partial<RunContext>;
  } = {},
): Promise<Collected> {
  const chunks: [OutputKind, Buffer][] = [];
  const { limits, onOutput, onArtifact, signal, cancel, artifactCaps, identity: who, profile, environment, ...rest } = opts;
  const files: Collected['files'] = [];
  const task: Task = { id: 'test', runtime, code, ...rest };
  const report = await executeRun(
    { task, profile: profile ?? runtimes.get(runtime)!, limits: { ...DEFAULT_LIMITS, ...limits } },
    { ...(await testSandbox()).runContext(createLogger('silent')), ...(who ? { identity: who } : {}), ...artifactCaps, ...environment },
    {
      output: async (kind, data) => {
        chunks.push([kind, data]);
        onOutput?.(kind, data);
      },
      artifact: async (path, data, part, parts) => {
        files.push({ path, data, part, parts });
        onArtifact?.(path);
      },
      ...(signal ? { abort: signal } : {}),
      ...(cancel ? { cancel } : {}),
    },
  );
  const join = (k: OutputKind) => Buffer.concat(chunks.filter(([kind]) => kind === k).map(([, d]) => d));
  return { ...report, chunks, stdout: join('stdout'), stderr: join('stderr'), files };
}
