// Run a command inside real gVisor (runsc, default ptrace platform) with an OCI bundle whose root
// is this machine's / read-only, plus the writable tmpfs mounts an executor pod would have. The
// sandbox uses the host's network (--network=host, no network namespace in the spec) so that it
// reaches a Redis on 127.0.0.1. Used by the gVisor tests and by `npm run bench` (BENCH_GVISOR=1).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectOutput, type ChildOutput } from './child-output.js';

// The capabilities the images document as needed (images/README.md), no more.
export const EXECUTOR_CAPABILITIES = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_KILL', 'CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SYS_ADMIN', 'CAP_NET_ADMIN', 'CAP_SYS_PTRACE'];
/**
 * The repository root (the folder holding package.json, found upwards: this file runs from dev/
 * under vitest and from build/dev/ compiled); mounted read-only at /repo inside the sandbox.
 */
export const REPO = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    if (path.dirname(dir) === dir) throw new Error('no package.json above dev/gvisor');
    dir = path.dirname(dir);
  }
  return dir;
})();

/**
 * Where a path of this machine is seen inside the sandbox: files of the repository under /repo
 * (a checkout under /tmp, say, is hidden by the sandbox's own /tmp), anything else unchanged.
 */
export function insideSandbox(p: string): string {
  return p === REPO || p.startsWith(`${REPO}/`) ? `/repo${p.slice(REPO.length)}` : p;
}
const tmpfs = (destination: string, size: string, mode = '1777') => ({ destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', `mode=${mode}`, `size=${size}`] });

export type GvisorRun = ChildOutput;

export interface GvisorOptions {
  env?: Record<string, string>;
  cwd: string;
  timeoutMs: number;
  /** An OCI `linux.seccomp` object, loaded with runsc's --oci-seccomp; omitted: no filter. */
  seccomp?: unknown;
}

export interface RunscProcess {
  child: ChildProcess;
  /** Force the sandbox down and delete its state; resolves once it is gone. */
  stop(): Promise<void>;
}

/** Start `args` under runsc and return at once; the caller stops it. */
export function startInRunsc(args: string[], opts: Omit<GvisorOptions, 'timeoutMs'>): RunscProcess {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gvisor-'));
  const bundle = path.join(dir, 'bundle');
  const state = path.join(dir, 'state');
  fs.mkdirSync(bundle);
  const name = `agent-executor-${process.pid}-${Date.now()}`;
  const spec = {
    ociVersion: '1.0.0',
    root: { path: '/', readonly: true },
    hostname: 'executor',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      // As in the images, an init that reaps orphans is PID 1 (a killed orphan is a zombie until
      // reaped, and zombies count against the sandbox user's process limit).
      args: ['/usr/bin/tini', '-s', '--', ...args.map(insideSandbox)],
      env: Object.entries({ PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...opts.env }).map(([k, v]) => `${k}=${v}`),
      cwd: insideSandbox(opts.cwd),
      capabilities: { bounding: EXECUTOR_CAPABILITIES, effective: EXECUTOR_CAPABILITIES, permitted: EXECUTOR_CAPABILITIES },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 65536, soft: 65536 }],
    },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      tmpfs('/dev/shm', '64m'),
      tmpfs('/tmp', '256m'),
      tmpfs('/var/tmp', '64m'),
      tmpfs('/run', '16m', '755'),
      tmpfs('/var/lib/agent-executor', '256m', '755'),
      { destination: '/repo', type: 'bind', source: REPO, options: ['rbind', 'ro'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      ...(opts.seccomp ? { seccomp: opts.seccomp } : {}),
    },
  };
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec, null, 1));
  const flags = ['--network=host', `--root=${state}`, ...(opts.seccomp ? ['--oci-seccomp'] : [])];
  const child = spawn('runsc', [...flags, 'run', '--bundle', bundle, name], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    async stop() {
      try {
        execFileSync('runsc', [`--root=${state}`, 'kill', name, 'KILL'], { stdio: 'ignore' });
      } catch {
        // already gone
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      try {
        execFileSync('runsc', [`--root=${state}`, 'delete', '--force', name], { stdio: 'ignore' });
      } catch {
        // already gone
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Run `args` under runsc to the end (or the timeout), collecting its output. */
export async function runInRunsc(args: string[], opts: GvisorOptions): Promise<GvisorRun> {
  const sandbox = startInRunsc(args, opts);
  try {
    return await collectOutput(sandbox.child, opts.timeoutMs, `runsc ${args.join(' ')}`);
  } finally {
    await sandbox.stop();
  }
}
