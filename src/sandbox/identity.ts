// Who snippets run as. As root, dedicated unprivileged users (default uid 64000, one per
// runtime and standby slot), so a snippet cannot read the daemon's environment or files, cannot signal it, and
// every process it leaves behind can be found by its uid. As non-root there is no other user to switch to, so snippets
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
 * One uid per runtime and standby slot: slot j of runtime i (in name order, of R runtimes) runs as
 * the sandbox uid + i + R·j, gid likewise (README, "Standby interpreters"). A standby waiting for
 * the next task then never shares a user with a snippet running beside it — another runtime's, or
 * its own runtime's in the other slot — which could otherwise signal, ptrace or write into it.
 * Snippets sharing the daemon's user (development) all keep that user.
 */
export function identitiesByRuntime(base: SandboxIdentity, runtimeNames: readonly string[], slots = 1): Map<string, SandboxIdentity[]> {
  const sorted = [...new Set(runtimeNames)].sort();
  const derived = (n: number): SandboxIdentity =>
    base.mode === 'dedicated' && n > 0 ? { mode: 'dedicated', uid: base.uid + n, gid: base.gid + n, name: `${base.name}+${n}` } : base;
  const identities = new Map<string, SandboxIdentity[]>(sorted.map((name, i) => [name, Array.from({ length: slots }, (_, j) => derived(i + sorted.length * j))]));
  if (base.mode === 'dedicated') checkDerivedIds(base, sorted.length * slots);
  return identities;
}

/**
 * The derived ids must be the sandbox's alone: uid + i and gid + i are either unknown to the
 * system or named after the base (`sandbox1`, `sandbox2`... as in the images). A collision could
 * hand a snippet a real user's or group's files (gid + i landing on `disk`, say), and the sweep
 * kills every process of a run's user.
 */
function checkDerivedIds(base: SandboxIdentity, count: number): void {
  const passwd = readTable('/etc/passwd');
  const groups = readTable('/etc/group');
  const baseUser = passwd.get(base.uid);
  const baseGroup = groups.get(base.gid);
  for (let i = 1; i < count; i++) {
    const [uid, gid] = [base.uid + i, base.gid + i];
    if (uid >= 65535 || gid >= 65535) {
      // 65535 is the 16-bit "no user", and ids past it are often unmapped in user namespaces.
      throw new ExecutorError(ERROR_CODES.SANDBOX_USER, `EXECUTOR_SANDBOX_USER=${base.name}: sandbox id ${i} would be uid ${uid}, gid ${gid}; choose a sandbox user below ${65535 - count} (the runtimes and standby slots take ${count} ids from it)`);
    }
    for (const [kind, table, id, owner] of [['user', passwd, uid, baseUser], ['group', groups, gid, baseGroup]] as const) {
      const taken = table.get(id);
      if (taken !== undefined && (owner === undefined || taken !== `${owner}${i}`)) {
        throw new ExecutorError(
          ERROR_CODES.SANDBOX_USER,
          `EXECUTOR_SANDBOX_USER=${base.name}: sandbox id ${i} would be ${kind} ${id}, which is "${taken}" on this system; ` +
            `choose a sandbox user whose next ${count - 1} ids are free, or name them ${owner ?? '<base>'}1, ${owner ?? '<base>'}2...`,
        );
      }
    }
  }
}

/** id -> name from /etc/passwd or /etc/group (empty when unreadable). */
function readTable(file: string): Map<number, string> {
  const table = new Map<number, string>();
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return table;
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name && id !== undefined && /^\d+$/.test(id)) table.set(Number(id), name);
  }
  return table;
}
