// A cell's input files, written into a session's directory while the session's own processes are
// alive. Those processes can swap any folder for a symbolic link at any moment, so nothing is
// looked up by path as root: each folder is opened from its parent's descriptor without following
// links, and a name already there (an earlier cell's file, or anything the snippet put there) is
// unlinked first and created anew, never opened through.
import fs from 'node:fs';
import { ERROR_CODES, ExecutorError } from '../errors.js';
import { at, close, code, lstatAt, openDirAt, openRoot, unlinkAt } from '../fs-at/dir.js';
import type { TaskFile } from '../task/schema.js';

export function writeCellFiles(root: string, files: readonly TaskFile[], owner: { uid: number; gid: number } | undefined): void {
  for (const f of files) {
    try {
      writeOne(root, f, owner);
    } catch (err) {
      if (err instanceof ExecutorError) throw err;
      throw new ExecutorError(ERROR_CODES.INPUT_FILES, `files: "${f.path}" cannot be written: ${code(err) ?? (err as Error).message}`, { cause: err });
    }
  }
}

function writeOne(root: string, f: TaskFile, owner: { uid: number; gid: number } | undefined): void {
  const segments = f.path.split('/').map((s) => Buffer.from(s));
  const name = segments.pop()!;
  let dirFd = openRoot(root);
  try {
    for (const seg of segments) {
      const st = lstatAt(dirFd, seg);
      if (st && !st.isDirectory()) throw new ExecutorError(ERROR_CODES.INPUT_FILES, `files: "${f.path}": a part of its path is not a folder in the session`);
      if (!st) fs.mkdirSync(at(dirFd, seg), { mode: 0o755 });
      const next = openDirAt(dirFd, seg);
      close(dirFd);
      dirFd = next;
      // Owned through its own descriptor: by name, a folder swapped in meanwhile would get it.
      if (!st && owner) fs.fchownSync(dirFd, owner.uid, owner.gid);
    }
    const existing = lstatAt(dirFd, name);
    if (existing?.isDirectory()) throw new ExecutorError(ERROR_CODES.INPUT_FILES, `files: "${f.path}" is a folder in the session`);
    if (existing) unlinkAt(dirFd, name);
    const fd = fs.openSync(at(dirFd, name), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, f.mode ?? 0o644);
    try {
      fs.writeSync(fd, f.encoding === 'base64' ? Buffer.from(f.content, 'base64') : Buffer.from(f.content));
      fs.fchmodSync(fd, f.mode ?? 0o644);
      if (owner) fs.fchownSync(fd, owner.uid, owner.gid);
    } finally {
      close(fd);
    }
  } finally {
    close(dirFd);
  }
}
