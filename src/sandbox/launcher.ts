// The command line that puts a snippet into its sandbox before it starts. Each step is a small
// tool that execs the next:
//
//   unshare --mount --net --ipc --pid --fork
//                              new mount, network (loopback only), IPC and PID namespaces
//   perl run-init.pl           the run's init (root's; see sandbox/run-init.ts): PID 1 of the
//                              run's namespace, or a subreaper where that cannot be had; it forks
//                              the snippet's first process, which sets the run's CPU priority,
//                              mounts fresh, size-limited /tmp, /var/tmp, /dev/shm, /run/lock (from
//                              a table written at start-up), brings up the loopback (loopback
//                              only: local servers a snippet starts for itself work), applies a
//                              seccomp filter (no keyrings, no user namespaces), closes every
//                              inherited descriptor above stderr, sets the rlimits (processes, open
//                              files, file size, core dumps, CPU, address space), drops to the
//                              sandbox uid/gid (no supplementary groups, no capabilities,
//                              no_new_privs: setuid binaries cannot raise privileges) and execs
//                              the interpreter with the run's environment and nothing else; the
//                              init reaps everything and reports the snippet's exit
//
// Without a sandbox user of its own (EXECUTOR_ALLOW_SHARED_USER: no init, no uid switch) a shell
// does the descriptors and rlimits, and `env -i` the environment.
// Steps the machine does not allow (see capabilities.ts) are left out, and the daemon says so.
import fs from 'node:fs';
import path from 'node:path';
import type { EffectiveLimits } from '../protocol/result.js';
import type { RuntimeProfile } from '../runtimes/schema.js';
import type { SandboxCapabilities } from './capabilities.js';
import type { SandboxIdentity } from './identity.js';
import { RUN_INIT_SCRIPT } from './run-init.js';
import type { RunContext } from './types.js';

// Snippets run at a lower priority than the daemon, so that a tree of CPU burners cannot starve
// the timers and samplers that enforce its budgets.
export const SNIPPET_NICE = 10;

export interface IsolationPlan {
  identity: SandboxIdentity;
  capabilities: SandboxCapabilities;
  /** Whether this run may use the network (otherwise it gets an empty network namespace). */
  network: boolean;
  /**
   * An fstab listing the world-writable folders to replace with a private tmpfs per run (see
   * writeMountTable); undefined: none.
   */
  mountTable: string | undefined;
  /** The folders the mount table covers. */
  privateDirs: readonly string[];
  /** RLIMIT_AS in bytes; 0 leaves it unset. */
  addressSpaceBytes: number;
  limits: EffectiveLimits;
  /** Keep descriptor 3 open (a standby's handoff channel); every other inherited one is closed. */
  keepHandoffFd?: boolean;
  /** The run's CPU priority, set by its init for every process of it; SNIPPET_NICE unless told. */
  nice?: number;
}

/** How the launcher isolates a run of `profile` in the context `ctx`. */
export function isolationPlan(ctx: RunContext, profile: RuntimeProfile, limits: EffectiveLimits): IsolationPlan {
  return {
    identity: ctx.identity,
    capabilities: ctx.capabilities,
    network: ctx.network || profile.network,
    mountTable: ctx.mountTable,
    privateDirs: ctx.privateDirs,
    addressSpaceBytes: ctx.addressSpaceBytes,
    limits,
  };
}

/** Whether the run's init is PID 1 of a PID namespace of the run's own (see run-init.pl). */
export function usesPidNamespace(plan: IsolationPlan): boolean {
  return plan.identity.mode === 'dedicated' && plan.capabilities.pidNamespace && plan.capabilities.privateMounts && plan.mountTable !== undefined;
}

/** The descriptor the run's init reports on: the one after stdio and the handoff channel. */
export function statusFd(plan: Pick<IsolationPlan, 'keepHandoffFd'>): number {
  return plan.keepHandoffFd ? 4 : 3;
}

/** The only environment the launcher's own tools (root, until the uid switch) ever see. */
export const LAUNCHER_ENV: Readonly<Record<string, string>> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

/**
 * The command that runs `argv` with exactly the environment `env`, isolated as `plan` says. Spawn
 * it with LAUNCHER_ENV: the run's environment (which holds the task's own variables) reaches no
 * process before the switch to the sandbox user — in perl, the dynamic loader or the tools' own
 * PATH lookups, variables such as PERL5OPT, LD_PRELOAD or PATH would run a task's code as root.
 * The init's child applies it last, after the switch, as the exec's whole environment (without
 * a sandbox user: `env -i`).
 */
export function wrapCommand(argv: readonly string[], env: Readonly<Record<string, string>>, plan: IsolationPlan): string[] {
  const dedicated = plan.identity.mode === 'dedicated';
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  if (!dedicated) {
    // The daemon may itself have inherited descriptors without close-on-exec (from its parent,
    // the container runtime, a CI harness); none of them may reach the snippet.
    const script = [
      `for fd in /proc/self/fd/*; do fd=\${fd##*/}; [ "$fd" -gt ${keptFd(plan)} ] 2>/dev/null && exec {fd}>&-; done`,
      ...rlimitCommands(plan).map((c) => `${c} || exit 126`),
      'exec env -i -- "$@"',
    ].join('\n');
    return ['/bin/bash', '--noprofile', '--norc', '-c', script, 'sandbox', ...assignments, ...argv];
  }
  const mounts = plan.capabilities.privateMounts && plan.mountTable !== undefined;
  const netns = plan.capabilities.networkNamespace && !plan.network;
  const ipcns = plan.capabilities.ipcNamespace;
  const pidns = usesPidNamespace(plan);
  const namespaces = [
    ...(mounts ? ['--mount', '--propagation', 'private'] : []),
    ...(netns ? ['--net'] : []),
    ...(ipcns ? ['--ipc'] : []),
    // --kill-child: should unshare itself die, the init goes too, and with it the whole namespace.
    ...(pidns ? ['--pid', '--fork', '--kill-child'] : []),
  ];
  const unshare = namespaces.length > 0 ? ['unshare', ...namespaces, '--'] : [];
  const initOptions = [...(pidns ? ['pidns', 'proc'] : []), 'seccomp', `arch=${process.arch}`, ...(ipcns ? [`shm=${plan.limits.memoryBytes}`] : []),
    `fsize=${plan.limits.fileSizeBytes}`,
    `nice=${plan.nice ?? SNIPPET_NICE}`,
    // The init mounts the private tmpfs folders and brings up the loopback itself (no mount(8),
    // no ip(8)); the table's path is percent-escaped, so a comma in it cannot split the options.
    ...(mounts ? [`mounts=${encodeURIComponent(plan.mountTable!)}`] : []),
    ...(netns ? ['lo'] : []),
    // Folder names are passed whole: one with a comma or colon is simply not searched.
    `places=${plan.privateDirs.filter((d) => !/[,:]/.test(d)).join(':')}`,
    // And what bash, setpriv and env -i did after it (three execs less per start).
    `keepfd=${keptFd(plan)}`,
    `rlimits=${runRlimits(plan).map((r) => `${r.resource}.${r.soft}.${r.hard}`).join('/')}`,
    `uid=${plan.identity.uid}`,
    `gid=${plan.identity.gid}`,
    `envc=${assignments.length}`,
  ];
  return [...unshare, 'perl', '-e', RUN_INIT_SCRIPT, '--', String(statusFd(plan)), initOptions.join(','), ...assignments, ...argv];
}

/** The highest inherited descriptor a run keeps: stderr, or the standby's handoff channel. */
function keptFd(plan: Pick<IsolationPlan, 'keepHandoffFd'>): number {
  return plan.keepHandoffFd ? 3 : 2;
}

/** One rlimit of a run: the resource's number (the same on x86_64 and arm64), soft and hard. */
export interface RunRlimit {
  resource: number;
  soft: number;
  hard: number;
}

const RLIMIT = { cpu: 0, fsize: 1, core: 4, nproc: 6, nofile: 7, as: 9 } as const;

/**
 * The rlimits a run gets: two runs with equal lists get identical limits. File size and address
 * space in whole KiB (rounded up), as the shell's ulimit sets them.
 */
export function runRlimits(plan: Pick<IsolationPlan, 'limits' | 'identity' | 'addressSpaceBytes'>): RunRlimit[] {
  const l = plan.limits;
  const kib = (bytes: number) => Math.ceil(bytes / 1024) * 1024;
  // RLIMIT_CPU is per process and in whole seconds: a backstop behind the sampled budget over the
  // whole tree, set just above it so the sampler normally acts first.
  const cpuSoft = Math.ceil(l.cpuMs / 1000) + 1;
  const both = (resource: number, value: number) => ({ resource, soft: value, hard: value });
  return [
    both(RLIMIT.nofile, l.openFiles),
    both(RLIMIT.fsize, kib(l.fileSizeBytes)),
    both(RLIMIT.core, 0),
    { resource: RLIMIT.cpu, soft: cpuSoft, hard: cpuSoft + 1 },
    // RLIMIT_NPROC counts every process of the uid: only meaningful for a user of the sandbox's own.
    ...(plan.identity.mode === 'dedicated' ? [both(RLIMIT.nproc, l.processes)] : []),
    ...(plan.addressSpaceBytes > 0 ? [both(RLIMIT.as, kib(plan.addressSpaceBytes))] : []),
  ];
}

/** The rlimits of runRlimits as bash `ulimit` commands (the shared-user launcher; and a standby's fingerprint). */
export function rlimitCommands(plan: Pick<IsolationPlan, 'limits' | 'identity' | 'addressSpaceBytes'>): string[] {
  const flag: Record<number, string> = { [RLIMIT.nofile]: '-n', [RLIMIT.fsize]: '-f', [RLIMIT.core]: '-c', [RLIMIT.cpu]: '-t', [RLIMIT.nproc]: '-u', [RLIMIT.as]: '-v' };
  // ulimit counts file size and address space in KiB.
  const value = (r: RunRlimit, v: number) => (r.resource === RLIMIT.fsize || r.resource === RLIMIT.as ? v / 1024 : v);
  const limits = runRlimits(plan);
  const hard = limits.map((r) => `${flag[r.resource]} ${value(r, r.hard)}`).join(' ');
  const softer = limits.filter((r) => r.soft !== r.hard).map((r) => `${flag[r.resource]} ${value(r, r.soft)}`).join(' ');
  return [`ulimit ${hard}`, ...(softer ? [`ulimit -S ${softer}`] : [])];
}

/**
 * Write the table of private tmpfs mounts into `dir` (a folder only root may write) and return its
 * path. The source name is the executor's own: `mount -a` skips an entry whose source is already
 * mounted at its target, and /dev/shm usually is a tmpfs named "tmpfs" already.
 */
export function writeMountTable(dir: string, privateDirs: readonly string[], tmpBytes: number): string | undefined {
  if (privateDirs.length === 0) return undefined;
  // fstab separates fields by whitespace; octal escapes keep unusual folder names intact.
  const escape = (p: string) => p.replace(/[\s\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  const lines = privateDirs.map((d) => `agent-executor-run ${escape(d)} tmpfs nosuid,nodev,mode=1777,size=${tmpBytes} 0 0`);
  const file = path.join(dir, '.private-mounts.fstab');
  // Written beside and renamed over: never through a symlink someone left at that name.
  const temp = `${file}.${process.pid}.tmp`;
  fs.rmSync(temp, { force: true });
  fs.writeFileSync(temp, `${lines.join('\n')}\n`, { mode: 0o644, flag: 'wx' });
  fs.chmodSync(temp, 0o644);
  fs.renameSync(temp, file);
  return file;
}


