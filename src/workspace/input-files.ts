// Files a task brings (`files`), written into the scratch directory before the code starts. The
// schema has already refused absolute paths and `..`; here each path is checked once more against
// the directory it lands in, parents are created as real folders, and nothing is written through
// a symlink (O_NOFOLLOW | O_EXCL), so a file can never land outside the scratch directory.
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ERROR_CODES, ExecutorError } from '../errors.js';
import type { TaskFile } from '../task/schema.js';
import { OUT_DIR } from './artifacts.js';


export function decodedSize(file: TaskFile): number {
  return file.encoding === 'base64' ? Buffer.from(file.content, 'base64').length : Buffer.byteLength(file.content);
}

/** Refuses the set of files a task brings, in words a caller can act on; undefined when fine. */
export function checkInputFiles(files: readonly TaskFile[], maxBytes: number, reserved: readonly string[]): string | undefined {
  let total = 0;
  const seen = new Set<string>();
  for (const f of files) {
    if (reserved.includes(f.path.split('/')[0]!)) return `files: "${f.path}" would replace the executor's own ${f.path.split('/')[0]}`;
    if (f.path === OUT_DIR) return `files: "${OUT_DIR}" is the folder artifacts are collected from; it cannot be a file (files inside it are fine)`;
    if (seen.has(f.path)) return `files: "${f.path}" is given twice`;
    for (const other of seen) {
      if (f.path.startsWith(`${other}/`) || other.startsWith(`${f.path}/`)) return `files: "${f.path}" and "${other}" cannot both exist (one is inside the other)`;
    }
    seen.add(f.path);
    total += decodedSize(f);
  }
  if (total > maxBytes) return `files: ${total} bytes in all, over the cap of ${maxBytes} bytes (EXECUTOR_FILES_BYTES)`;
  return undefined;
}

// Errors of writing a file that the file's own path or content explains (a name the file system
// refuses, one folder in the way of another): the task's problem, not the executor's.
const CAUSED_BY_THE_TASK = new Set(['ENAMETOOLONG', 'EEXIST', 'ENOTDIR', 'EISDIR', 'ELOOP', 'EINVAL', 'EILSEQ', 'EFBIG']);

/**
 * Write the task's files. A failure the task's own files cause is thrown as an INPUT_FILES
 * error (the run answers `rejected`); any other (the disk, the executor) as it came.
 */
export async function writeInputFiles(root: string, files: readonly TaskFile[], owner: { uid: number; gid: number } | undefined): Promise<void> {
  for (const f of files) {
    const target = path.resolve(root, f.path);
    if (!target.startsWith(`${root}/`)) throw new ExecutorError(ERROR_CODES.INPUT_FILES, `files: "${f.path}" escapes the working directory`);
    try {
      await writeOne(root, target, f, owner);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === undefined || !CAUSED_BY_THE_TASK.has(code)) throw err;
      throw new ExecutorError(ERROR_CODES.INPUT_FILES, `files: "${f.path}" cannot be written: ${code}`, { cause: err });
    }
  }
}

async function writeOne(root: string, target: string, f: TaskFile, owner: { uid: number; gid: number } | undefined): Promise<void> {
  await makeParents(root, path.dirname(target), owner);
  const handle = await fs.open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, f.mode ?? 0o644);
  try {
    await handle.writeFile(f.encoding === 'base64' ? Buffer.from(f.content, 'base64') : f.content);
    // The process umask may have narrowed the mode given at creation.
    await handle.chmod(f.mode ?? 0o644);
    if (owner) await handle.chown(owner.uid, owner.gid);
  } finally {
    await handle.close();
  }
}

async function makeParents(root: string, dir: string, owner: { uid: number; gid: number } | undefined): Promise<void> {
  if (dir === root) return;
  await makeParents(root, path.dirname(dir), owner);
  try {
    await fs.mkdir(dir, { mode: 0o755 });
    if (owner) await fs.chown(dir, owner.uid, owner.gid);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const st = await fs.lstat(dir);
    if (!st.isDirectory()) throw new ExecutorError(ERROR_CODES.INPUT_FILES, `files: "${path.relative(root, dir)}" is a file, not a folder`);
  }
}
