// Who snippets run as. As root, a dedicated unprivileged user (default `nobody`), so a snippet
// cannot read the daemon's environment or files, cannot signal it, and every process it leaves
// behind can be found by its uid. As non-root there is no other user to switch to, so snippets
// would share the daemon's user: allowed only when asked for explicitly (local development).
import fs from 'node:fs';
import { ERROR_CODES, ExecutorError } from '../errors.js';

export type SandboxIdentity =
  /** Snippets run as their own uid; the sweep kills and deletes by that uid. */
  | { mode: 'dedicated'; uid: number; gid: number; name: string }
  /** Snippets share the daemon's user; the sweep follows the process tree. Development only. */
  | { mode: 'shared'; uid: number; gid: number; name: string };

export function resolveSandboxIdentity(opts: { sandboxUser: string; allowSharedUser: boolean }): SandboxIdentity {
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) {
    if (!opts.allowSharedUser) {
      throw new ExecutorError(
        ERROR_CODES.SANDBOX_USER,
        `refusing to start: the daemon runs as uid ${uid}, not root, so snippets would run as the daemon's own user ` +
          `and could read its environment (the Redis URL) and signal it. Run as root (snippets then run as ` +
          `EXECUTOR_SANDBOX_USER), or set EXECUTOR_ALLOW_SHARED_USER=1 for local development only.`,
      );
    }
    return { mode: 'shared', uid, gid: process.getgid?.() ?? uid, name: `uid ${uid} (shared with the daemon)` };
  }
  const { uid: sUid, gid: sGid } = lookupUser(opts.sandboxUser);
  if (sUid === 0) {
    throw new ExecutorError(ERROR_CODES.SANDBOX_USER, `EXECUTOR_SANDBOX_USER=${opts.sandboxUser} is root; snippets must not run as root`);
  }
  return { mode: 'dedicated', uid: sUid, gid: sGid, name: opts.sandboxUser };
}

/** `name`, `uid` or `uid:gid`; a bare number need not exist in /etc/passwd. */
function lookupUser(spec: string): { uid: number; gid: number } {
  const numeric = /^(\d+)(?::(\d+))?$/.exec(spec);
  if (numeric) {
    const uid = Number(numeric[1]);
    return { uid, gid: numeric[2] === undefined ? uid : Number(numeric[2]) };
  }
  let passwd = '';
  try {
    passwd = fs.readFileSync('/etc/passwd', 'utf8');
  } catch {
    // fall through to the error below
  }
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === spec && uid !== undefined && gid !== undefined) return { uid: Number(uid), gid: Number(gid) };
  }
  throw new ExecutorError(ERROR_CODES.SANDBOX_USER, `EXECUTOR_SANDBOX_USER=${JSON.stringify(spec)}: no such user in /etc/passwd (a numeric uid[:gid] needs no entry)`);
}

/**
 * One uid per runtime: runtime i (in name order) runs as the sandbox uid + i, gid + i. A standby
 * interpreter waiting for the next task of one runtime then never shares a user with the snippet
 * of another runtime running beside it, which could otherwise signal, ptrace or write into it.
 * Snippets sharing the daemon's user (development) all keep that user.
 */
export function identitiesByRuntime(base: SandboxIdentity, runtimeNames: readonly string[]): Map<string, SandboxIdentity> {
  const sorted = [...new Set(runtimeNames)].sort();
  return new Map(
    sorted.map((name, i) => [
      name,
      base.mode === 'dedicated' && i > 0 ? { mode: 'dedicated', uid: base.uid + i, gid: base.gid + i, name: `${base.name}+${i}` } : base,
    ]),
  );
}
