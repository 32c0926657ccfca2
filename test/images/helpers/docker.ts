// A private Docker daemon for the image tests: Debian's dockerd (with BuildKit) on its own socket,
// data root and exec root under one temporary folder, gVisor's runsc registered as a runtime.
// `stop()` removes every container, stops dockerd (which stops its containerd), kills by pid
// anything it left that still names the folder, unmounts what is left mounted there and deletes it.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { collectOutput, tail } from '../../../dev/child-output.js';

export { tail };

// Debian's docker.io client, not a newer one that may come first on PATH.
export const DOCKER = '/usr/bin/docker';
export const DOCKERD = '/usr/sbin/dockerd';

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 60_000;

/** Whether the image tests can run here, and if not, why. In CI (CI=true) they must. */
export const dockerAvailable = (() => {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  if (!fs.existsSync(DOCKER) || !fs.existsSync(DOCKERD)) missing.push('Debian\'s docker.io (apt-get install docker.io)');
  if (!onPath('debootstrap')) missing.push('debootstrap (apt-get install debootstrap)');
  if (!onPath('runsc')) missing.push('runsc (apt-get install runsc)');
  const reason = missing.length ? `the image tests need ${missing.join(', ')}` : '';
  if (reason && process.env.CI === 'true') throw new Error(`CI=true but the image tests cannot run: ${reason}`);
  return { skip: missing.length > 0, reason };
})();

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && fs.existsSync(path.join(dir, cmd)));
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface CommandOptions {
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Piped to the command's stdin. */
  input?: NodeJS.ReadableStream;
  /** Resolve with the result instead of rejecting on a non-zero exit. */
  allowFailure?: boolean;
}

/** Run a command to completion within a bounded time; reject on a non-zero exit (unless allowed). */
export async function run(file: string, args: string[], opts: CommandOptions): Promise<CommandResult> {
  const started = Date.now();
  const child = spawn(file, args, { env: opts.env, cwd: opts.cwd, stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  if (opts.input) opts.input.pipe(child.stdin!);
  const { code, stdout, stderr } = await collectOutput(child, opts.timeoutMs, `${file} ${args.join(' ')}`);
  if (code !== 0 && !opts.allowFailure) throw new Error(`${file} ${args.join(' ')} exited with ${code}\n${tail(stdout)}\n${tail(stderr)}`);
  return { code, stdout, stderr, ms: Date.now() - started };
}

export interface PrivateDocker {
  /** The temporary folder holding everything of this daemon (and scratch space for the tests). */
  dir: string;
  /** Run the docker client against this daemon. */
  docker(args: string[], opts: Omit<CommandOptions, 'env'>): Promise<CommandResult>;
  stop(): Promise<void>;
}

export async function startDocker(): Promise<PrivateDocker> {
  const dir = fs.mkdtempSync('/var/tmp/agent-executor-images-');
  const socket = path.join(dir, 'docker.sock');
  const config = {
    // No bridge and no iptables: containers use the host's network (runsc needs
    // --network=host here: its network detection misfires on this kernel without it).
    iptables: false,
    bridge: 'none',
    runtimes: { runsc: { path: '/usr/bin/runsc', runtimeArgs: ['--network=host'] } },
  };
  fs.writeFileSync(path.join(dir, 'daemon.json'), JSON.stringify(config));
  fs.mkdirSync(path.join(dir, 'client'));
  const log = fs.openSync(path.join(dir, 'dockerd.log'), 'a');
  const dockerd = spawn(
    DOCKERD,
    ['--config-file', path.join(dir, 'daemon.json'), '--data-root', path.join(dir, 'data'), '--exec-root', path.join(dir, 'exec'), '--pidfile', path.join(dir, 'dockerd.pid'), '-H', `unix://${socket}`],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  let exited = false;
  dockerd.once('exit', () => (exited = true));

  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(dir, 'client'), DOCKER_BUILDKIT: '1' };
  const docker: PrivateDocker['docker'] = (args, opts) => run(DOCKER, args, { ...opts, env });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Each step on its own: a failure of one must not leave the rest running.
      try {
        if (!exited) {
          const { stdout } = await docker(['ps', '-aq'], { timeoutMs: 30_000 });
          const ids = stdout.split('\n').filter(Boolean);
          if (ids.length) await docker(['rm', '-f', ...ids], { timeoutMs: 60_000, allowFailure: true });
        }
      } catch {
        // dockerd is unresponsive: it is killed below
      }
      await stopProcess(dockerd, () => exited);
      killLeftovers(dir);
      unmountUnder(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    })());

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const version = await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000, allowFailure: true }).catch(() => undefined);
    if (version?.code === 0) break;
    if (exited || Date.now() > deadline) {
      const why = tail(fs.readFileSync(path.join(dir, 'dockerd.log'), 'utf8'));
      await stop();
      throw new Error(`dockerd did not become ready within ${READY_TIMEOUT_MS} ms:\n${why}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { dir, docker, stop };
}

async function stopProcess(child: ReturnType<typeof spawn>, hasExited: () => boolean): Promise<void> {
  if (hasExited()) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS).unref());
  if ((await Promise.race([gone, timer])) === 'timeout') {
    child.kill('SIGKILL');
    await gone;
  }
}

// containerd, its shims and runsc sandboxes all name the daemon's folder in their command lines;
// anything still alive after dockerd stopped is ours, and is killed by pid.
function killLeftovers(dir: string): void {
  for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let cmdline = '';
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (Number(pid) !== process.pid && cmdline.includes(dir)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
  }
}

function unmountUnder(dir: string): void {
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}
