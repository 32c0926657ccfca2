// The hostile snippets: each one tries to break out of a run, outlast it, or leave something for
// the next run, and states what containment looks like. The snippets themselves are files in
// runtime-profiles/selftest/ (named for their check); this table holds their limits and verdicts. `agent-executor selftest` and the test
// suite run them through the same run-and-sweep code as the daemon.
import os from 'node:os';
import type { EffectiveLimits, ExitResult } from '../protocol/result.js';
import { PSEUDO_FS } from '../sandbox/writable-places.js';
import { library, snippet } from './snippets.js';

export interface CheckContext {
  /** A TCP port on 127.0.0.1 that the checker listens on (a stand-in for Redis). */
  listenerPort: number;
  /** A root-only file beside the scratch folders (a stand-in for a mounted secret). */
  secretPath: string;
  /** Whether the configuration lets snippets use the network. */
  networkAllowed: boolean;
}

export interface Observed {
  result: ExitResult;
  stdout: Buffer;
  stderr: Buffer;
  /** Whether the checker's listener saw a connection during the run. */
  listenerReached: boolean;
}

export interface HostileCheck {
  name: string;
  runtime: 'python' | 'node' | 'bash';
  code: (ctx: CheckContext) => string;
  limits?: Partial<EffectiveLimits>;
  /** Returns why the run was not contained; undefined or `{ note }` when it was. */
  verdict: (seen: Observed, ctx: CheckContext) => string | undefined | { note: string };
}

const OVERSHOOT_MS = 500;
const text = (b: Buffer) => b.toString('utf8');
const status = (seen: Observed, ...allowed: string[]) =>
  allowed.includes(seen.result.status) ? undefined : `status ${seen.result.status} (${seen.result.error ?? 'no error'}), expected ${allowed.join(' or ')}`;
const endedWithin = (seen: Observed, wallMs: number) =>
  seen.result.wallMs < wallMs + OVERSHOOT_MS ? undefined : `ran ${seen.result.wallMs} ms, budget ${wallMs} ms`;
const says = (seen: Observed, pattern: RegExp) =>
  pattern.test(text(seen.stdout)) ? undefined : `expected output matching ${pattern}, got ${JSON.stringify(text(seen.stdout).slice(0, 300))} / ${JSON.stringify(text(seen.stderr).slice(0, 300))}`;
const first = (...reasons: (string | undefined)[]) => reasons.find((r) => r !== undefined);
/**
 * CPU used within budget + overshoot. No run can use more than wall time × cores: a figure above
 * that is the kernel's accounting, not the snippet (Debian's runsc reports up to twice as much), and
 * the bound is what is judged then, with a note.
 */
function cpuWithin(seen: Observed, budgetMs: number): string | undefined | { note: string } {
  const { cpuMs, wallMs } = seen.result;
  const possible = wallMs * os.cpus().length;
  if (Math.min(cpuMs, possible) >= budgetMs + OVERSHOOT_MS) return `used ${cpuMs} ms CPU, budget ${budgetMs}`;
  return cpuMs > possible ? { note: `the kernel reported ${cpuMs} ms CPU, more than ${os.cpus().length} cores can give in ${wallMs} ms; judged by that bound` } : undefined;
}

/**
 * A process left behind that watches (through ns_last_pid, which names every new process at once)
 * for new processes of its uid — a helper the sweep might run as that uid — then stops each one,
 * reads its environment and writes it through the process's root to each of `targets` (paths
 * relative to that root), and prints "watching" from the run's first process.
 */
export function watcherCode(targets: readonly string[]): string {
  return snippet('sweep-helper-escape.py', { TARGETS: targets });
}

/** Python defining build(where, root, depth, long), as lines (deep trees, for the sweep tests). */
export const BUILD_TREE_PY = library('build_tree.py').trimEnd().split('\n');

export const HOSTILE_CHECKS: HostileCheck[] = [
  {
    name: 'fork-bomb',
    runtime: 'bash',
    code: () => snippet('fork-bomb.sh'),
    limits: { wallMs: 3000 },
    verdict: (seen) => endedWithin(seen, 3000),
  },
  {
    name: 'setsid-double-fork-daemon',
    runtime: 'python',
    code: () => snippet('setsid-double-fork-daemon.py'),
    verdict: (seen) => first(status(seen, 'ok'), says(seen, /daemonized/)),
  },
  {
    name: 'background-writer-after-exit',
    runtime: 'bash',
    code: () => snippet('background-writer-after-exit.sh'),
    verdict: (seen) => first(status(seen, 'ok'), says(seen, /left running/)),
  },
  {
    name: 'output-flood-one-line',
    runtime: 'python',
    code: () => snippet('output-flood-one-line.py'),
    limits: { outputBytes: 1024 * 1024 },
    verdict: (seen) =>
      first(
        status(seen, 'output_limit'),
        seen.stdout.length === 1024 * 1024 && seen.result.truncated ? undefined : `got ${seen.stdout.length} bytes, truncated=${seen.result.truncated}`,
      ),
  },
  {
    name: 'binary-output',
    runtime: 'python',
    code: () => snippet('binary-output.py'),
    verdict: (seen) => {
      const expected = Buffer.from(Array.from({ length: 256 * 64 }, (_, i) => i % 256));
      if (!seen.stdout.equals(expected)) return 'stdout bytes differ';
      if (!seen.stderr.equals(Buffer.from([0xff, 0xfe, 0x00, ...Buffer.from('bad utf8')]))) return 'stderr bytes differ';
      return undefined;
    },
  },
  {
    name: 'allocate-2gb',
    runtime: 'python',
    code: () => snippet('allocate-2gb.py'),
    limits: { memoryBytes: 256 * 1024 ** 2 },
    verdict: (seen) => status(seen, 'memory_limit'),
  },
  {
    name: 'fill-the-disk',
    runtime: 'python',
    code: () => snippet('fill-the-disk.py'),
    limits: { wallMs: 20_000 },
    verdict: (seen) => first(says(seen, /^\. stopped/m), says(seen, /^\/tmp stopped/m)),
  },
  {
    name: 'write-tmp-shm-home',
    runtime: 'bash',
    code: () => snippet('write-tmp-shm-home.sh'),
    verdict: (seen) => first(status(seen, 'ok'), says(seen, /wrote \/tmp/)),
  },
  {
    name: 'sigterm-ignored',
    runtime: 'python',
    code: () => snippet('sigterm-ignored.py'),
    limits: { wallMs: 1000 },
    verdict: (seen) => first(status(seen, 'timeout'), endedWithin(seen, 1000)),
  },
  {
    name: 'self-sigstop',
    runtime: 'bash',
    code: () => snippet('self-sigstop.sh'),
    limits: { wallMs: 1000 },
    verdict: (seen) => first(status(seen, 'timeout'), endedWithin(seen, 1000)),
  },
  {
    name: 'threads-burning-cpu',
    runtime: 'node',
    code: () => snippet('threads-burning-cpu.js'),
    limits: { cpuMs: 1500, wallMs: 10_000 },
    verdict: (seen) => status(seen, 'cpu_limit') ?? cpuWithin(seen, 1500),
  },
  {
    name: 'read-daemon-secrets',
    runtime: 'python',
    code: (ctx) => snippet('read-daemon-secrets.py', { SECRET_PATH: ctx.secretPath }),
    verdict: (seen) => {
      const out = text(seen.stdout);
      const reads = out.split('\n').filter((l) => l.startsWith('READ '));
      // Only stdin, stdout, stderr and the fd listdir itself opened: nothing inherited.
      const fds = /fds \[([^\]]*)\]/.exec(out)?.[1]?.split(',').map((s) => Number(s.trim()));
      if (!fds || fds.some((fd) => fd > 3)) return `inherited file descriptors: ${fds?.join(', ')}`;
      if (/REDIS|EXECUTOR_/.test(/^env .*$/m.exec(out)?.[0] ?? '')) return 'the daemon\'s settings leaked into the environment';
      if (!/^denied .*\/mem /m.test(out) || reads.some((l) => !/\/environ /.test(l))) return `read what it must not: ${reads.join('; ')}`;
      const environ = reads.find((l) => /\/environ /.test(l));
      if (environ === undefined) return undefined;
      // Some kernels (older gVisor) do not enforce access checks on /proc/<pid>/environ. The
      // daemon's environment must then at least hold no credentials (see REDIS_URL_FILE).
      if (!/credentials: none$/.test(environ)) return `read the daemon's environment, which holds credentials: ${environ}`;
      return { note: "warning: this kernel lets other users read the daemon's /proc/<pid>/environ; it holds no credentials" };
    },
  },
  {
    name: 'connect-to-redis-port',
    runtime: 'python',
    code: (ctx) => snippet('connect-to-redis-port.py', { LISTENER_PORT: ctx.listenerPort }),
    verdict: (seen, ctx) => {
      if (ctx.networkAllowed) return undefined;
      if (seen.listenerReached || /CONNECTED/.test(text(seen.stdout))) return 'reached a port on the host loopback';
      return says(seen, /blocked/);
    },
  },
  {
    name: 'kill-the-daemon',
    runtime: 'python',
    code: () => snippet('kill-the-daemon.py'),
    verdict: (seen) => (/SIGNALLED/.test(text(seen.stdout)) ? 'signalled the daemon' : says(seen, /denied\ndenied/)),
  },
  {
    name: 'no-privileges',
    runtime: 'python',
    code: () => snippet('no-privileges.py'),
    verdict: (seen) => {
      const m = /uid (\d+) (\d+) caps (\S*) nnp (\S+) groups \[\]/.exec(text(seen.stdout));
      if (!m) return `unexpected: ${text(seen.stdout)}${text(seen.stderr)}`;
      if (m[1] === '0' || m[2] === '0') return 'runs as root';
      if (m[3] !== '' && !/^0+$/.test(m[3]!)) return `has capabilities ${m[3]}`;
      // Where the kernel reports it (gVisor may not), no_new_privs must be set.
      if (m[4] !== 'n/a' && m[4] !== '1') return 'no_new_privs not set: setuid binaries could raise privileges';
      return undefined;
    },
  },
  {
    // Every folder the sandbox user can write to, found from the mount table (a read-only mount
    // cannot be written whatever its permissions, so only read-write mounts are walked). A marker
    // is planted in each; the probe after the run must find none of them.
    name: 'writable-places',
    runtime: 'python',
    code: () => snippet('writable-places.py', { PSEUDO_FS: [...PSEUDO_FS] }),
    limits: { wallMs: 60_000, cpuMs: 30_000 },
    verdict: (seen) => status(seen, 'ok'),
  },
  {
    // A process left behind watches for new processes of its uid (a helper the sweep might run as
    // that uid) to stop it, read its environment and write through its root. Nothing of the
    // daemon may ever appear there; the runner also checks from outside that no process of the
    // uid is left.
    name: 'sweep-helper-escape',
    runtime: 'python',
    code: () => watcherCode(['tmp', 'var/tmp', 'dev/shm'].map((d) => `${d}/.planted-escape`)),
    verdict: (seen) => first(status(seen, 'ok'), says(seen, /^watching$/m)),
  },
  {
    name: 'kernel-keyring',
    runtime: 'python',
    code: () => snippet('kernel-keyring.py'),
    verdict: (seen) => {
      const out = text(seen.stdout);
      if (/^refused 1$/m.test(out)) return undefined;
      if (/^refused 38$/m.test(out)) return { note: 'not applicable: this kernel has no keyrings' };
      return `a key was added to the user keyring (it would outlive the run): ${out.trim()}`;
    },
  },
  {
    name: 'user-namespace',
    runtime: 'bash',
    code: () => snippet('user-namespace.sh'),
    verdict: (seen) => (/CREATED/.test(text(seen.stdout)) ? 'created a user namespace' : says(seen, /refused/)),
  },
  {
    name: 'memfd-memory',
    runtime: 'python',
    code: () => snippet('memfd-memory.py'),
    limits: { memoryBytes: 128 * 1024 ** 2 },
    verdict: (seen) => status(seen, 'memory_limit'),
  },
  {
    name: 'short-lived-cpu',
    runtime: 'python',
    code: () => snippet('short-lived-cpu.py'),
    limits: { cpuMs: 300, wallMs: 10_000 },
    verdict: (seen) =>
      first(status(seen, 'cpu_limit'), seen.result.wallMs < 3000 ? undefined : `ran ${seen.result.wallMs} ms: the CPU of its short-lived processes was not counted`),
  },
  {
    // The leader exits with SYS_exit while a thread runs: /proc shows it as a zombie, yet it is
    // alive and could execve() beside the next tenant.
    name: 'hidden-thread',
    runtime: 'python',
    code: () => snippet('hidden-thread.py'),
    verdict: (seen) => first(status(seen, 'ok'), says(seen, /hidden/)),
  },
  {
    // Dozens of short processes: the daemon's own descriptors must not grow (the runner compares
    // its descriptor count before and after every check).
    name: 'many-short-processes',
    runtime: 'bash',
    code: () => snippet('many-short-processes.sh'),
    // Under Debian's runsc every exec is charged ~160 ms of CPU (66 execs measured 10.75 s, over
    // the 10 s budget the limits below are clamped to); 33 execs stay well inside it.
    limits: { cpuMs: 30_000, wallMs: 30_000 },
    verdict: (seen) => first(status(seen, 'ok'), says(seen, /done/)),
  },
  {
    // Names are bytes: one that is not UTF-8 must be swept (and verified gone) like any other, and
    // listed as an artifact, not dropped. Planted in every writable place, the home and out/.
    name: 'non-utf8-names',
    runtime: 'python',
    code: () => snippet('non-utf8-names.py', { PSEUDO_FS: [...PSEUDO_FS] }),
    limits: { wallMs: 60_000, cpuMs: 30_000 },
    verdict: (seen) => {
      const listed = seen.result.artifacts?.find((a) => a.pathBase64 === Buffer.from('\xff-artifact', 'latin1').toString('base64'));
      if (!listed) return `the artifact whose name is not UTF-8 was not listed: ${JSON.stringify(seen.result.artifacts ?? [])}`;
      if (listed.included) return 'the artifact whose name is not UTF-8 was returned as a file entry';
      return status(seen, 'ok');
    },
  },
  {
    // A tree deeper than PATH_MAX (10,000 folders, and a chain of 255-byte names), with chmod 000
    // folders, in the home and in /tmp: deleting it by path fails, and the executor must neither
    // stop nor leave it for the next run of this user.
    name: 'deep-tree',
    runtime: 'python',
    code: () => snippet('deep-tree.py'),
    limits: { wallMs: 60_000, cpuMs: 40_000 },
    verdict: (seen) => first(status(seen, 'ok'), says(seen, /^built$/m)),
  },
];
