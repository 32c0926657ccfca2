// Run one snippet through the same run code the daemon uses, with no Redis: output is collected
// in order, as the results stream would receive it.
import { createLogger } from '../../src/log.js';
import type { OutputKind } from '../../src/output/coalescer.js';
import type { EffectiveLimits } from '../../src/protocol/result.js';
import { executeRun, type RunReport } from '../../src/run/run.js';
import { loadRuntimes } from '../../src/runtimes/load.js';
import type { RuntimeProfile } from '../../src/runtimes/schema.js';
import type { SandboxIdentity } from '../../src/sandbox/identity.js';
import type { Task } from '../../src/task/schema.js';
import { sandboxUid } from './env.js';

export const runtimes = loadRuntimes();
export const identity: SandboxIdentity = { mode: 'dedicated', uid: sandboxUid(), gid: sandboxUid(), name: 'test' };
export const DEFAULT_LIMITS: EffectiveLimits = { wallMs: 10_000, cpuMs: 5_000, outputBytes: 1_048_576 };

export interface Collected extends RunReport {
  chunks: [OutputKind, Buffer][];
  stdout: Buffer;
  stderr: Buffer;
}

export async function runSnippet(
  runtime: string,
  code: string,
  opts: Partial<Omit<Task, 'runtime' | 'code'>> & {
    limits?: Partial<EffectiveLimits>;
    onOutput?: (kind: OutputKind, data: Buffer) => void;
    signal?: AbortSignal;
    identity?: SandboxIdentity;
    profile?: RuntimeProfile;
  } = {},
): Promise<Collected> {
  const chunks: [OutputKind, Buffer][] = [];
  const { limits, onOutput, signal, identity: who, profile, ...rest } = opts;
  const task: Task = { id: 'test', runtime, code, ...rest };
  const report = await executeRun(
    { task, profile: profile ?? runtimes.get(runtime)!, limits: { ...DEFAULT_LIMITS, ...limits } },
    {
      identity: who ?? identity,
      workDir: '/tmp',
      sandboxPath: '/usr/local/bin:/usr/bin:/bin',
      killGraceMs: 200,
      cpuSampleMs: 50,
      logger: createLogger('silent'),
    },
    {
      output: async (kind, data) => {
        chunks.push([kind, data]);
        onOutput?.(kind, data);
      },
      ...(signal ? { signal } : {}),
    },
  );
  const join = (k: OutputKind) => Buffer.concat(chunks.filter(([kind]) => kind === k).map(([, d]) => d));
  return { ...report, chunks, stdout: join('stdout'), stderr: join('stderr') };
}
