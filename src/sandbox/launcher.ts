// The command line that puts a snippet into its sandbox before it starts. Each step is a small
// tool that execs the next:
//
//   unshare --mount --net --ipc --pid --fork
//                              new mount, network (loopback only), IPC and PID namespaces
//   perl run-init.pl           the run's init (root's; see sandbox/run-init.ts): PID 1 of the
//                              run's namespace, or a subreaper where that cannot be had; it forks
//                              the next step, which sets the run's CPU priority, mounts fresh,
//                              size-limited /tmp, /var/tmp, /dev/shm, /run/lock (from a table
//                              written at start-up), brings up the loopback (loopback only: local
//                              servers a snippet starts for itself work), and applies a seccomp
//                              filter (no keyrings, no user namespaces); the init reaps everything
//                              and reports the snippet's exit
//   bash -c '...'              close every inherited descriptor above stderr; rlimits (ulimit):
//                              processes, open files, file size, core dumps, CPU, address space
//   setpriv                    sandbox uid/gid, no supplementary groups, no capabilities,
//                              no_new_privs (setuid binaries cannot raise privileges)
//   env -i NAME=value...       the run's environment, and nothing else, from here on
//
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

/** The only environment the launcher's own tools (root, until setpriv) ever see. */
export const LAUNCHER_ENV: Readonly<Record<string, string>> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

/**
 * The command that runs `argv` with exactly the environment `env`, isolated as `plan` says. Spawn
 * it with LAUNCHER_ENV: the run's environment (which holds the task's own variables) reaches no
 * process before the switch to the sandbox user — in bash, the dynamic loader or the tools' own
 * PATH lookups, variables such as BASH_ENV, LD_PRELOAD or PATH would run a task's code as root.
 * It is applied last, by `env -i` running as the sandbox user.
 */
export function wrapCommand(argv: readonly string[], env: Readonly<Record<string, string>>, plan: IsolationPlan): string[] {
  const dedicated = plan.identity.mode === 'dedicated';
  const mounts = dedicated && plan.capabilities.privateMounts && plan.mountTable !== undefined;
  const netns = dedicated && plan.capabilities.networkNamespace && !plan.network;
  const ipcns = dedicated && plan.capabilities.ipcNamespace;
  const pidns = usesPidNamespace(plan);
  const namespaces = [
    ...(mounts ? ['--mount', '--propagation', 'private'] : []),
    ...(netns ? ['--net'] : []),
    ...(ipcns ? ['--ipc'] : []),
    // --kill-child: should unshare itself die, the init goes too, and with it the whole namespace.
    ...(pidns ? ['--pid', '--fork', '--kill-child'] : []),
  ];
  const unshare = namespaces.length > 0 ? ['unshare', ...namespaces, '--'] : [];
  const initMounts = mounts && !plan.mountTable!.includes(',');
  const initOptions = [...(pidns ? ['pidns', 'proc'] : []), 'seccomp', `arch=${process.arch}`, ...(ipcns ? [`shm=${plan.limits.memoryBytes}`] : []),
    `fsize=${plan.limits.fileSizeBytes}`,
    `nice=${plan.nice ?? SNIPPET_NICE}`,
    // The init mounts the private tmpfs folders and brings up the loopback itself (one fork and
    // exec less each); a table path the option list cannot carry is left to mount(8).
    ...(initMounts ? [`mounts=${plan.mountTable}`] : []),
    ...(netns ? ['lo'] : []),
    // Folder names are passed whole: one with a comma or colon is simply not searched.
    `places=${plan.privateDirs.filter((d) => !/[,:]/.test(d)).join(':')}`,
  ];
  const init = dedicated ? ['perl', '-e', RUN_INIT_SCRIPT, '--', String(statusFd(plan)), initOptions.join(',')] : [];
  const drop = dedicated
    ? ['setpriv', `--reuid=${plan.identity.uid}`, `--regid=${plan.identity.gid}`, '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--']
    : [];
  const script = [
    ...(mounts && !initMounts ? [`mount -n -a -T ${sq(plan.mountTable!)} || exit 126`] : []),
    // The daemon may itself have inherited descriptors without close-on-exec (from its parent,
    // the container runtime, a CI harness); none of them may reach the snippet.
    `for fd in /proc/self/fd/*; do fd=\${fd##*/}; [ "$fd" -gt ${plan.keepHandoffFd ? 3 : 2} ] 2>/dev/null && exec {fd}>&-; done`,
    // rlimits with the shell's builtin rather than prlimit(1): one exec less per start (an exec
    // costs ~4 ms here, tens of ms under gVisor). Set as root before setpriv, inherited across it.
    ...rlimitCommands(plan).map((c) => `${c} || exit 126`),
    `exec ${drop.map(sq).join(' ')} env -i -- "$@"`,
  ].join('\n');
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return [...unshare, ...init, '/bin/bash', '--noprofile', '--norc', '-c', script, 'sandbox', ...assignments, ...argv];
}

/**
 * The rlimits a run gets, as bash `ulimit` commands (both limits unless -S): two runs with equal
 * lists get identical limits. File size and address space go in whole KiB, rounded up.
 */
export function rlimitCommands(plan: Pick<IsolationPlan, 'limits' | 'identity' | 'addressSpaceBytes'>): string[] {
  const l = plan.limits;
  const kib = (bytes: number) => Math.ceil(bytes / 1024);
  // RLIMIT_CPU is per process and in whole seconds: a backstop behind the sampled budget over the
  // whole tree, set just above it so the sampler normally acts first.
  const cpuSoft = Math.ceil(l.cpuMs / 1000) + 1;
  const both = [`-n ${l.openFiles}`, `-f ${kib(l.fileSizeBytes)}`, '-c 0', `-t ${cpuSoft + 1}`];
  // RLIMIT_NPROC counts every process of the uid: only meaningful for a user of the sandbox's own.
  if (plan.identity.mode === 'dedicated') both.push(`-u ${l.processes}`);
  if (plan.addressSpaceBytes > 0) both.push(`-v ${kib(plan.addressSpaceBytes)}`);
  return [`ulimit ${both.join(' ')}`, `ulimit -S -t ${cpuSoft}`];
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

/** Single-quote for /bin/sh. */
function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
