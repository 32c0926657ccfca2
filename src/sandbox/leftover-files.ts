// Files a run left outside its scratch directory. A file of the sandbox user can only be created
// in a folder that user may write to: a world-writable one, or one it owns (which is removed
// whole). So the walk descends only into world- or group-writable folders, which keeps it cheap
// even over a busy /tmp. Names are bytes (a name that is not UTF-8 is still a file), and the walk
// goes through directory descriptors, never by path: nothing a snippet left can steer root.
import path from 'node:path';
import { close, entriesOf, lstatAt, openDirAt, openRoot } from '../fs-at/dir.js';
import { Pacer } from '../fs-at/pacer.js';
import { removeAt } from '../fs-at/remove-tree.js';

const MAX_DEPTH = 32;
/** How many of the paths found are kept to be reported; the rest are only counted. */
export const LEFTOVER_SAMPLE = 100;

export interface Leftovers {
  count: number;
  /** The first paths found, for display (bytes that are not UTF-8 shown as U+FFFD). */
  sample: string[];
}

/** What is owned by `uid` under `roots` (folders are reported, not descended into), except `keep`. */
export function findFilesOf(uid: number, roots: readonly string[], keep?: string): Promise<Leftovers> {
  return walkRoots(uid, roots, keep, async () => undefined);
}

/** Delete everything owned by `uid` under `roots` except `keep`; returns what was found. */
export function removeFilesOf(uid: number, roots: readonly string[], keep?: string): Promise<Leftovers> {
  return walkRoots(uid, roots, keep, (dirFd, name) => removeAt(dirFd, name).catch(() => undefined));
}

type OnFound = (dirFd: number, name: Buffer) => Promise<void>;

async function walkRoots(uid: number, roots: readonly string[], keep: string | undefined, onFound: OnFound): Promise<Leftovers> {
  const found: Leftovers = { count: 0, sample: [] };
  const kept = keep === undefined ? undefined : Buffer.from(path.resolve(keep));
  for (const root of roots) {
    let fd: number;
    try {
      fd = openRoot(root);
    } catch {
      continue;
    }
    try {
      await walk(fd, Buffer.from(root), { uid, kept, onFound, found, pacer: new Pacer() }, 0);
    } finally {
      close(fd);
    }
  }
  return found;
}

interface Walk {
  uid: number;
  kept: Buffer | undefined;
  onFound: OnFound;
  found: Leftovers;
  pacer: Pacer;
}

async function walk(dirFd: number, dirPath: Buffer, w: Walk, depth: number): Promise<void> {
  if (depth > MAX_DEPTH) return;
  const folders: Buffer[] = [];
  try {
    for (const { name } of entriesOf(dirFd)) {
      await w.pacer.tick();
      const p = Buffer.concat([dirPath, SLASH, name]);
      const st = lstatOrNothing(dirFd, name);
      if (!st || (w.kept && p.equals(w.kept))) continue;
      if (st.uid === w.uid) {
        w.found.count += 1;
        if (w.found.sample.length < LEFTOVER_SAMPLE) w.found.sample.push(p.toString());
        await w.onFound(dirFd, name);
      } else if (st.isDirectory() && (st.mode & 0o022) !== 0) folders.push(name);
    }
  } catch {
    return;
  }
  // Descended after the listing is closed: at most one listing is open per level.
  for (const name of folders) {
    let child: number;
    try {
      child = openDirAt(dirFd, name);
    } catch {
      // Gone, or swapped for something that is not a folder: nothing of the user's below it.
      continue;
    }
    try {
      await walk(child, Buffer.concat([dirPath, SLASH, name]), w, depth + 1);
    } finally {
      close(child);
    }
  }
}

const SLASH = Buffer.from('/');

function lstatOrNothing(dirFd: number, name: Buffer): ReturnType<typeof lstatAt> {
  try {
    return lstatAt(dirFd, name);
  } catch {
    return undefined;
  }
}
