// One daemon per set of sandbox uids. Two daemons on the same uids (two executors on one host, a
// second container in a pod) would kill each other's runs in their sweeps and delete each other's
// files. Each uid has a lock file under /run/agent-executor; a daemon takes an exclusive flock(2)
// on every one of its uids before it touches anything of them, and holds the locks for its whole
// life through a small child process (bash, then cat) that keeps the locked descriptors open and
// exits when its stdin — a pipe from the daemon — closes, however the daemon ends. A lock file
// records the holder's pid and consumer name, for the message the second daemon gives.
//
// It sees daemons that share this file system's /run/agent-executor (the host's, or a volume two
// containers mount there) — and, for the pid in the message to mean anything, a PID namespace.
// Daemons in separate containers without a shared /run do not see each other; they cannot see
// each other's processes either, which is what the sweep would kill.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import { ERROR_CODES, ExecutorError } from '../errors.js';

export const UID_LOCK_DIR = '/run/agent-executor';
// A daemon that was just killed may take a moment to drop its locks (its holder sees EOF first).
const WAIT_S = 3;

export interface UidLock {
  release(): void;
}

const SCRIPT = `
dir=$1 consumer=$2 wait=$3; shift 3
for u in "$@"; do
  exec {fd}<>"$dir/uid-$u.lock" || exit 2
  if ! flock -w "$wait" -x "$fd"; then echo "held $u $(head -c 300 "$dir/uid-$u.lock" | tr -d '\\n')"; exit 1; fi
  printf '%s %s\\n' "$DAEMON_PID" "$consumer" > "$dir/uid-$u.lock"
done
echo locked
exec cat > /dev/null
`;

/** Take the uids for this daemon, or throw saying who holds them. */
export async function holdSandboxUids(uids: readonly number[], consumer: string, dir = UID_LOCK_DIR): Promise<UidLock> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  // Root writes into it: it must be root's own folder that nobody else can write (not a link).
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new ExecutorError(ERROR_CODES.SANDBOX_UIDS_HELD, `${dir} must be a folder of root's that only root may write (it is ${st.isDirectory() ? `owned by uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}` : 'not a folder'})`);
  }
  const child: ChildProcess = spawn('/bin/bash', ['-c', SCRIPT, 'uid-lock', dir, consumer, String(WAIT_S), ...uids.map(String)], {
    stdio: ['pipe', 'pipe', 'ignore'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', DAEMON_PID: String(process.pid) },
  });
  const first = await new Promise<string>((resolve) => {
    const lines = readline.createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve(line));
    child.once('exit', (code) => resolve(`exit ${code}`));
  });
  const range = uids.length > 1 ? `${Math.min(...uids)}-${Math.max(...uids)}` : String(uids[0]);
  if (first === 'locked') {
    // Held for the daemon's life without keeping it alive: release() (or the daemon's end)
    // closes the holder's stdin, and it exits.
    child.unref();
    for (const pipe of [child.stdin, child.stdout] as unknown as { unref?: () => void }[]) pipe?.unref?.();
    return { release: () => child.stdin?.end() };
  }
  child.kill('SIGKILL');
  const held = /^held (\d+) (\d+) (.*)$/.exec(first);
  if (held) {
    throw new ExecutorError(ERROR_CODES.SANDBOX_UIDS_HELD, `sandbox uids ${range} are held by pid ${held[2]} (consumer ${held[3]}): uid ${held[1]} is locked in ${dir}; two daemons must not share sandbox uids (set EXECUTOR_SANDBOX_USER apart)`);
  }
  throw new ExecutorError(ERROR_CODES.SANDBOX_UIDS_HELD, `could not lock the sandbox uids ${range} in ${dir} (${first})`);
}
