// Files a run left outside its scratch directory. A file of the sandbox user can only be created
// in a folder that user may write to: a world-writable one, or one it owns (which is removed
// whole). So the walk descends only into world- or group-writable folders, which keeps it cheap
// even over a busy /tmp.
import fs from 'node:fs/promises';
import path from 'node:path';

const MAX_DEPTH = 32;

/** Paths under `roots` owned by `uid` (folders are reported, not descended into). */
export async function findFilesOf(uid: number, roots: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const root of roots) await walk(root, uid, found, 0);
  return found;
}

/** Delete every path owned by `uid` under `roots` except `keep`; returns what was found. */
export async function removeFilesOf(uid: number, roots: readonly string[], keep?: string): Promise<string[]> {
  const found = await findFilesOf(uid, roots);
  for (const p of found) if (p !== keep) await fs.rm(p, { recursive: true, force: true }).catch(() => undefined);
  return found;
}

async function walk(dir: string, uid: number, found: string[], depth: number): Promise<void> {
  if (depth > MAX_DEPTH) return;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const p = path.join(dir, name);
    let st;
    try {
      st = await fs.lstat(p);
    } catch {
      continue;
    }
    if (st.uid === uid) found.push(p);
    else if (st.isDirectory() && (st.mode & 0o022) !== 0) await walk(p, uid, found, depth + 1);
  }
}
