// Directory descriptors in place of openat(2) and its family, which Node lacks: an entry of an
// open directory is addressed as /proc/self/fd/<fd>/<name>. The kernel resolves that magic link to
// the directory itself, so no component above the entry is looked up again by name — a folder
// swapped for a symlink mid-walk is never followed — and every path stays short however deep the
// tree is (PATH_MAX never applies). Names are Buffers throughout: a name is bytes, never decoded.
//
// The calls are synchronous: a tree of 10,000 folders takes some 200,000 of them, and through
// libuv's thread pool each costs a round trip (about 8 s for that tree, against a fraction of one).
// The walkers keep the event loop turning with a Pacer instead.
import fs from 'node:fs';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;
// Not exported by Node; this value holds on x86, arm and arm64 Linux.
const O_PATH = 0o10000000;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
const DOT_DOT = Buffer.from('..');
const SLASH = Buffer.from('/');

/** The path of `name` inside the open directory `dirFd`, without any lookup of its folders. */
export function at(dirFd: number, name?: Buffer): Buffer {
  const dir = Buffer.from(`/proc/self/fd/${dirFd}`);
  return name === undefined ? dir : Buffer.concat([dir, SLASH, name]);
}

/** Open a folder the daemon was configured with (its own path is trusted; it may be a link). */
export function openRoot(dirPath: string): number {
  return fs.openSync(dirPath, O_RDONLY | O_DIRECTORY);
}

/** Open the folder `name` of `dirFd`; fails with ELOOP for a symlink, ENOTDIR for any other non-folder. */
export function openDirAt(dirFd: number, name: Buffer): number {
  return fs.openSync(at(dirFd, name), DIR_FLAGS);
}

/** The parent of an open folder (`..` is never a symlink). */
export function openParent(dirFd: number): number {
  return fs.openSync(at(dirFd, DOT_DOT), DIR_FLAGS);
}

/**
 * Give the owner of the folder `name` of `dirFd` its permissions back (a snippet's chmod 000).
 * O_PATH needs no permission on the folder, and chmod through its magic link reaches the folder
 * itself: there is no name left to swap for a link between the check and the change.
 */
export function grantOwnerAt(dirFd: number, name: Buffer): void {
  const handle = fs.openSync(at(dirFd, name), O_PATH | O_DIRECTORY | O_NOFOLLOW);
  try {
    grantOwner(handle);
  } finally {
    fs.closeSync(handle);
  }
}

/** Give the owner of an open folder its permissions back, so that it can be read and emptied. */
export function grantOwner(dirFd: number): void {
  fs.chmodSync(at(dirFd), 0o700);
}

export const close = (fd: number): void => fs.closeSync(fd);
export const fstat = (fd: number): fs.Stats => fs.fstatSync(fd);

/** lstat of an entry; undefined when it is gone. */
export function lstatAt(dirFd: number, name: Buffer): fs.Stats | undefined {
  try {
    return fs.lstatSync(at(dirFd, name));
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    throw err;
  }
}

export const unlinkAt = (dirFd: number, name: Buffer): void => fs.unlinkSync(at(dirFd, name));
export const rmdirAt = (dirFd: number, name: Buffer): void => fs.rmdirSync(at(dirFd, name));

export interface Entry {
  name: Buffer;
  /** From the directory entry itself (d_type); false when the file system does not say. */
  isDirectory: boolean;
}

/**
 * The entries of an open folder, read in order while the caller consumes them; the listing's own
 * descriptor is closed when the loop ends, however it ends.
 */
export function* entriesOf(dirFd: number): Generator<Entry> {
  const dir = fs.opendirSync(at(dirFd), { encoding: 'buffer' as BufferEncoding, bufferSize: 128 });
  try {
    for (;;) {
      const dirent = dir.readSync();
      if (dirent === null) return;
      yield { name: dirent.name as unknown as Buffer, isDirectory: dirent.isDirectory() };
    }
  } finally {
    dir.closeSync();
  }
}

/** The errno code of a failed call. */
export function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}
