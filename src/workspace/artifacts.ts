// Artifacts: the files a snippet leaves in `out/` under its working directory, read after every
// process of the run is dead (nothing can change them underneath) and before the directory is
// deleted. Only regular files owned by the sandbox user are returned, opened without following
// links: a symlink (to /etc/passwd, say) or a hard link to someone else's file returns nothing of
// its target, only a line in the list of what was left out.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

export const OUT_DIR = 'out';

export interface ArtifactInfo {
  path: string;
  bytes: number;
  sha256: string | null;
  included: boolean;
  /** Why it was left out, when it was. */
  reason?: string;
}

export interface ArtifactCaps {
  maxFiles: number;
  maxBytes: number;
  /** Files must belong to this uid. */
  uid: number;
}

export type ArtifactSink = (relPath: string, data: Buffer, part: number, parts: number) => Promise<unknown>;

const PART_BYTES = 1024 * 1024;
const MAX_DEPTH = 32;
// Hashing what is left out is a courtesy; it is bounded so a snippet cannot make it expensive.
const HASH_BUDGET_BYTES = 256 * 1024 * 1024;

export async function collectArtifacts(root: string, caps: ArtifactCaps, emit: ArtifactSink): Promise<ArtifactInfo[]> {
  const outDir = path.join(root, OUT_DIR);
  const entries: { rel: string; abs: string }[] = [];
  await list(outDir, '', entries, 0);
  entries.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));

  const infos: ArtifactInfo[] = [];
  let includedFiles = 0;
  let includedBytes = 0;
  let hashed = 0;
  for (const { rel, abs } of entries) {
    const st = await fs.lstat(abs).catch(() => undefined);
    if (!st) continue;
    if (st.isSymbolicLink()) {
      infos.push({ path: rel, bytes: 0, sha256: null, included: false, reason: 'symbolic link (never followed)' });
      continue;
    }
    if (!st.isFile()) {
      infos.push({ path: rel, bytes: 0, sha256: null, included: false, reason: 'not a regular file' });
      continue;
    }
    if (st.uid !== caps.uid || st.nlink > 1) {
      infos.push({ path: rel, bytes: st.size, sha256: null, included: false, reason: st.nlink > 1 ? 'hard link' : 'not written by the run' });
      continue;
    }
    const fits = includedFiles < caps.maxFiles && includedBytes + st.size <= caps.maxBytes;
    if (!fits && hashed + st.size > HASH_BUDGET_BYTES) {
      infos.push({ path: rel, bytes: st.size, sha256: null, included: false, reason: capReason(includedFiles, caps) });
      continue;
    }
    const data = await readNoFollow(abs);
    hashed += data.length;
    const sha256 = createHash('sha256').update(data).digest('hex');
    if (!fits) {
      infos.push({ path: rel, bytes: data.length, sha256, included: false, reason: capReason(includedFiles, caps) });
      continue;
    }
    const parts = Math.max(1, Math.ceil(data.length / PART_BYTES));
    for (let i = 0; i < parts; i++) await emit(rel, data.subarray(i * PART_BYTES, (i + 1) * PART_BYTES), i + 1, parts);
    includedFiles += 1;
    includedBytes += data.length;
    infos.push({ path: rel, bytes: data.length, sha256, included: true });
  }
  return infos;
}

function capReason(includedFiles: number, caps: ArtifactCaps): string {
  return includedFiles >= caps.maxFiles
    ? `over the cap of ${caps.maxFiles} files (EXECUTOR_ARTIFACT_FILES)`
    : `over the cap of ${caps.maxBytes} bytes (EXECUTOR_ARTIFACT_BYTES)`;
}

async function list(dir: string, rel: string, out: { rel: string; abs: string }[], depth: number): Promise<void> {
  if (depth > MAX_DEPTH) return;
  // The folder itself may have been replaced by a symlink: never descend through one.
  const st = await fs.lstat(dir).catch(() => undefined);
  if (!st?.isDirectory()) return;
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const abs = path.join(dir, name);
    const r = rel ? `${rel}/${name}` : name;
    const child = await fs.lstat(abs).catch(() => undefined);
    if (child?.isDirectory()) await list(abs, r, out, depth + 1);
    else if (child) out.push({ rel: r, abs });
  }
}

async function readNoFollow(file: string): Promise<Buffer> {
  const handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
