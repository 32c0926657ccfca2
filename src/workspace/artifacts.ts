// Artifacts: the files a snippet leaves in `out/` under its working directory, read after every
// process of the run is dead and before the directory is deleted. Only regular files owned by the
// sandbox user are returned. Everything goes through directory descriptors opened without
// following links (see fs-at/dir.ts): a symlink (to /etc/passwd, say), a hard link to someone
// else's file, or a folder swapped for a link mid-collection returns nothing of its target, only
// a line in the list of what was left out. Names are bytes: one that is not UTF-8 is listed (with
// its bytes in `pathBase64`), never dropped, and never returned as a `file` entry, whose path
// would not survive the wire. The listing is capped, so the exit entry stays small.
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import { at, close, entriesOf, lstatAt, openDirAt, openRoot } from '../fs-at/dir.js';
import { Pacer } from '../fs-at/pacer.js';
import type { ArtifactEntry } from '../protocol/result.js';

export const OUT_DIR = 'out';
/** Why a link in out/ is not returned: it could point at anything the daemon may read. */
export const LINK_REFUSED = 'symbolic link (never followed)';
export const HARD_LINK_REFUSED = 'hard link';

export type ArtifactInfo = ArtifactEntry;

export interface ArtifactCaps {
  maxFiles: number;
  maxBytes: number;
  /** At most this many entries are listed; the rest are only counted. */
  maxListed: number;
  /** Files must belong to this uid. */
  uid: number;
  /** path → sha256 of files already returned (a session's earlier cells): those unchanged are left out. */
  known?: ReadonlyMap<string, string>;
}

export interface Artifacts {
  entries: ArtifactInfo[];
  /** Entries past `maxListed` (at least this many: the walk itself is bounded). */
  unlisted: number;
}

export type ArtifactSink = (relPath: string, data: Buffer, part: number, parts: number) => Promise<unknown>;

const PART_BYTES = 1024 * 1024;
const MAX_DEPTH = 32;
// The walk reads at most this many entries of out/, however many it holds.
const WALK_ENTRIES = 200_000;
// Hashing what is left out is a courtesy; it is bounded so a snippet cannot make it expensive.
const HASH_BUDGET_BYTES = 256 * 1024 * 1024;
const SLASH = Buffer.from('/');

/** An entry of out/ that is not a folder: its path's components, relative to out/. */
type Found = Buffer[];

export async function collectArtifacts(root: string, caps: ArtifactCaps, emit: ArtifactSink): Promise<Artifacts> {
  const rootFd = openRoot(root);
  let outFd: number;
  try {
    outFd = openDirAt(rootFd, Buffer.from(OUT_DIR));
  } catch {
    // No out/, or out/ replaced by a symlink or a file: nothing to collect.
    return { entries: [], unlisted: 0 };
  } finally {
    close(rootFd);
  }
  try {
    const listing = new Listing(caps.maxListed);
    await walk(outFd, [], listing, 0, new Pacer());
    const { kept, unlisted } = listing.result();
    return { entries: await readEntries(outFd, kept, caps, emit), unlisted };
  } finally {
    close(outFd);
  }
}

// Keeps the first `max` paths in byte order of everything it is shown, in memory bounded by
// 2 × max paths, and counts the rest.
class Listing {
  private found: { rel: Buffer; parts: Found }[] = [];
  dropped = 0;
  seen = 0;
  constructor(private readonly max: number) {}

  add(parts: Found): void {
    this.found.push({ rel: Buffer.concat(parts.flatMap((p, i) => (i ? [SLASH, p] : [p]))), parts });
    if (this.found.length >= 2 * this.max) this.trim();
  }

  result(): { kept: { rel: Buffer; parts: Found }[]; unlisted: number } {
    this.trim();
    return { kept: this.found, unlisted: this.dropped };
  }

  private trim(): void {
    this.found.sort((a, b) => Buffer.compare(a.rel, b.rel));
    this.dropped += Math.max(0, this.found.length - this.max);
    this.found.length = Math.min(this.found.length, this.max);
  }
}

async function walk(dirFd: number, parts: Found, listing: Listing, depth: number, pacer: Pacer): Promise<void> {
  for (const entry of entriesOf(dirFd)) {
    await pacer.tick();
    // Past the bound, what was not read is not counted: `unlisted` is then a lower bound.
    if (++listing.seen > WALK_ENTRIES) return;
    const here = [...parts, entry.name];
    if (!entry.isDirectory) {
      listing.add(here);
      continue;
    }
    if (depth >= MAX_DEPTH) continue;
    let child: number;
    try {
      child = openDirAt(dirFd, entry.name);
    } catch {
      listing.add(here); // no longer a folder: listed as whatever it is now
      continue;
    }
    try {
      await walk(child, here, listing, depth + 1, pacer);
    } finally {
      close(child);
    }
  }
}

async function readEntries(outFd: number, kept: { rel: Buffer; parts: Found }[], caps: ArtifactCaps, emit: ArtifactSink): Promise<ArtifactInfo[]> {
  const infos: ArtifactInfo[] = [];
  let includedFiles = 0;
  let includedBytes = 0;
  let hashed = 0;
  const folders = new FolderCache(outFd);
  try {
    for (const { rel, parts } of kept) {
      const path = rel.toString();
      const name = parts[parts.length - 1]!;
      const dirFd = folders.open(parts.slice(0, -1));
      if (dirFd === undefined) {
        infos.push({ path, bytes: 0, sha256: null, included: false, reason: 'a folder on its path changed while it was collected' });
        continue;
      }
      const st = lstatAt(dirFd, name);
      if (!st) continue;
      if (!isUtf8(rel)) {
        infos.push({ path, pathBase64: rel.toString('base64'), bytes: st.isFile() ? st.size : 0, sha256: null, included: false, reason: 'name is not valid UTF-8' });
        continue;
      }
      if (st.isSymbolicLink()) {
        infos.push({ path, bytes: 0, sha256: null, included: false, reason: LINK_REFUSED });
        continue;
      }
      if (!st.isFile()) {
        infos.push({ path, bytes: 0, sha256: null, included: false, reason: 'not a regular file' });
        continue;
      }
      if (st.uid !== caps.uid || st.nlink > 1) {
        infos.push({ path, bytes: st.size, sha256: null, included: false, reason: st.nlink > 1 ? HARD_LINK_REFUSED : 'not written by the run' });
        continue;
      }
      const fits = includedFiles < caps.maxFiles && includedBytes + st.size <= caps.maxBytes;
      if (!fits && hashed + st.size > HASH_BUDGET_BYTES) {
        infos.push({ path, bytes: st.size, sha256: null, included: false, reason: capReason(includedFiles, caps) });
        continue;
      }
      const data = await readSame(dirFd, name, st.ino, caps.uid);
      if (data === undefined) {
        infos.push({ path, bytes: 0, sha256: null, included: false, reason: 'changed while it was collected' });
        continue;
      }
      hashed += data.length;
      const sha256 = createHash('sha256').update(data).digest('hex');
      if (caps.known?.get(path) === sha256) continue;
      if (!fits) {
        infos.push({ path, bytes: data.length, sha256, included: false, reason: capReason(includedFiles, caps) });
        continue;
      }
      const count = Math.max(1, Math.ceil(data.length / PART_BYTES));
      for (let i = 0; i < count; i++) await emit(path, data.subarray(i * PART_BYTES, (i + 1) * PART_BYTES), i + 1, count);
      includedFiles += 1;
      includedBytes += data.length;
      infos.push({ path, bytes: data.length, sha256, included: true });
    }
  } finally {
    folders.close();
  }
  return infos;
}

function capReason(includedFiles: number, caps: ArtifactCaps): string {
  return includedFiles >= caps.maxFiles
    ? `over the cap of ${caps.maxFiles} files (EXECUTOR_ARTIFACT_FILES)`
    : `over the cap of ${caps.maxBytes} bytes (EXECUTOR_ARTIFACT_BYTES)`;
}

// The file the listing saw, or nothing: opened without following a link and without blocking on
// a FIFO, then checked on the open descriptor itself (same inode, still the run's, one link).
async function readSame(dirFd: number, name: Buffer, ino: number, uid: number): Promise<Buffer | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(at(dirFd, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.ino !== ino || st.uid !== uid || st.nlink > 1) return undefined;
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

// Entries come sorted, so siblings follow each other: the folder of the last one is kept open,
// and every other is reopened from out/ one component at a time, never following a link.
class FolderCache {
  private key: Buffer | undefined;
  private fd: number | undefined;
  constructor(private readonly outFd: number) {}

  open(parts: Found): number | undefined {
    if (parts.length === 0) return this.outFd;
    const key = Buffer.concat(parts.flatMap((p) => [p, SLASH]));
    if (this.key?.equals(key)) return this.fd;
    this.close();
    let fd = this.outFd;
    try {
      for (const part of parts) {
        const next = openDirAt(fd, part);
        if (fd !== this.outFd) close(fd);
        fd = next;
      }
    } catch {
      if (fd !== this.outFd) close(fd);
      return undefined;
    }
    this.key = key;
    this.fd = fd;
    return fd;
  }

  close(): void {
    if (this.fd !== undefined) close(this.fd);
    this.key = undefined;
    this.fd = undefined;
  }
}
