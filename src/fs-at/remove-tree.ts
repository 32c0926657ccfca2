// Delete whatever a snippet made, as root, without ever following one of its symlinks: any depth
// (a chain of 10,000 folders is a few lines of Python), any name (bytes, up to 255 of them), any
// permissions (chmod 000 folders), any number of entries. The walk holds at most three
// descriptors at a time whatever the depth: it keeps only the folder it is in, and climbs back
// through `..`, checking that it lands in the very folder it came from (device and inode), so a
// folder moved elsewhere mid-walk stops the deletion instead of steering it.
import { close, code, entriesOf, fstat, grantOwner, grantOwnerAt, lstatAt, openDirAt, openParent, rmdirAt, unlinkAt } from './dir.js';
import { Pacer } from './pacer.js';

interface Level {
  name: Buffer;
  dev: number;
  ino: number;
  /** Folders found in one read of this level and not yet entered (see PENDING_*). */
  pending: Buffer[];
  /** Entries that could not be removed; skipped on later reads so the walk ends. */
  failed: Set<string>;
}

// Folders remembered per read, so a wide folder is not re-read from its start for each of its
// subfolders; bounded over the whole stack, so a deep one cannot make the daemon hold many names.
const PENDING_PER_LEVEL = 64;
const PENDING_TOTAL = 4096;

/**
 * Remove `name` from the open folder `parentFd`, with everything below it. Resolves once it is
 * gone (or was never there); rejects with the first failure otherwise.
 */
export async function removeAt(parentFd: number, name: Buffer): Promise<void> {
  // The caller's folder is not the snippet's: its permissions are never touched (no `grant`).
  const first = tryRemove(parentFd, name, unlinkAt, false);
  if (first !== 'folder') {
    if (first !== undefined) throw first;
    return;
  }
  const walk = new TreeWalk();
  let cur = openFolder(parentFd, name);
  try {
    const top = walk.enter(cur, name);
    for (;;) {
      await walk.pacer.tick();
      const level = walk.stack[walk.stack.length - 1]!;
      const sub = walk.nextFolder(cur, level);
      if (sub !== undefined) {
        let child: number;
        try {
          child = openFolder(cur, sub);
        } catch (err) {
          // No longer a folder (swapped for a link or a file): remove it as it is now.
          const swapped = code(err) === 'ELOOP' || code(err) === 'ENOTDIR';
          const failure = swapped ? tryRemove(cur, sub, unlinkAt) : err;
          if (failure !== undefined) walk.fail(level, sub, failure);
          continue;
        }
        close(cur);
        cur = child;
        walk.enter(cur, sub);
        continue;
      }
      // This folder holds nothing more that can be removed: climb out and remove it.
      const done = walk.stack.pop()!;
      walk.pendingTotal -= done.pending.length;
      if (done === top) break;
      const parent = walk.stack[walk.stack.length - 1]!;
      const up = openParent(cur);
      close(cur);
      cur = up;
      const st = fstat(cur);
      if (st.dev !== parent.dev || st.ino !== parent.ino) throw new Error('a folder was moved while it was being deleted; deletion stopped');
      const failure = tryRemove(cur, done.name, rmdirAt);
      if (failure !== undefined) walk.fail(parent, done.name, failure);
    }
  } finally {
    close(cur);
  }
  const failure = tryRemove(parentFd, name, rmdirAt, false);
  if (failure !== undefined) throw walk.firstError ?? failure;
}

/** Whether `name` still exists in the open folder. */
export function existsAt(dirFd: number, name: Buffer): boolean {
  return lstatAt(dirFd, name) !== undefined;
}

class TreeWalk {
  readonly stack: Level[] = [];
  readonly pacer = new Pacer();
  pendingTotal = 0;
  firstError: Error | undefined;

  enter(fd: number, name: Buffer): Level {
    const st = fstat(fd);
    const level: Level = { name, dev: st.dev, ino: st.ino, pending: [], failed: new Set() };
    this.stack.push(level);
    return level;
  }

  fail(level: Level, name: Buffer, err: unknown): void {
    level.failed.add(name.toString('hex'));
    this.firstError ??= new Error(`cannot remove ${name.toString()}: ${err instanceof Error ? err.message : 'not a folder, yet unlink refuses it'}`, { cause: err });
  }

  /**
   * Remove every entry of the folder that is not a folder, and return a subfolder to descend
   * into, if any is left. Reads again until a read removes nothing, as entries removed during a
   * read may make it skip others.
   */
  nextFolder(fd: number, level: Level): Buffer | undefined {
    const queued = level.pending.pop();
    if (queued !== undefined) {
      this.pendingTotal -= 1;
      return queued;
    }
    for (;;) {
      let removed = 0;
      const room = Math.max(1, Math.min(PENDING_PER_LEVEL, PENDING_TOTAL - this.pendingTotal));
      const folders: Buffer[] = [];
      for (const entry of entriesOf(fd)) {
        if (level.failed.has(entry.name.toString('hex'))) continue;
        if (!entry.isDirectory) {
          const failure = tryRemove(fd, entry.name, unlinkAt);
          if (failure === undefined) removed += 1;
          else if (failure !== 'folder') this.fail(level, entry.name, failure);
          if (failure !== 'folder') continue;
        }
        folders.push(entry.name);
        if (folders.length >= room) break;
      }
      if (folders.length > 0) {
        const first = folders.shift()!;
        level.pending.push(...folders);
        this.pendingTotal += folders.length;
        return first;
      }
      if (removed === 0) return undefined;
    }
  }
}

// Root needs no permissions; a non-root daemon (shared mode) cannot read a folder its snippet
// made unreadable until the owner's permissions are back. Only for folders being deleted anyway
// (the top one included: it is the snippet's, only the folder it sits in is not).
function openFolder(dirFd: number, name: Buffer): number {
  try {
    return openDirAt(dirFd, name);
  } catch (err) {
    if (code(err) !== 'EACCES') throw err;
    grantOwnerAt(dirFd, name);
    return openDirAt(dirFd, name);
  }
}

/**
 * Unlink or rmdir one entry: undefined once it is gone, 'folder' when unlink met a folder, or the
 * error. A folder whose owner took its own write permission away gets it back once (see above).
 */
function tryRemove(dirFd: number, name: Buffer, remove: (dirFd: number, name: Buffer) => void, grant = true): unknown {
  for (let attempt = 0; ; attempt++) {
    try {
      remove(dirFd, name);
      return undefined;
    } catch (err) {
      const c = code(err);
      if (c === 'ENOENT') return undefined;
      if (remove === unlinkAt && (c === 'EISDIR' || c === 'EPERM')) return 'folder';
      if (c !== 'EACCES' || attempt > 0 || !grant) return err;
      grantOwner(dirFd);
    }
  }
}
