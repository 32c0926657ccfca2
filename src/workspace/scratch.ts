// A run's scratch directory: its cwd and HOME, new for every run, owned by the sandbox user and
// closed to everyone else, deleted after the run.
import fs from 'node:fs/promises';
import path from 'node:path';
import { dir } from 'tmp-promise';
import { ERROR_CODES, ExecutorError } from '../errors.js';
import { close, openRoot } from '../fs-at/dir.js';
import { existsAt, removeAt } from '../fs-at/remove-tree.js';
import type { SandboxIdentity } from '../sandbox/identity.js';

export interface Scratch {
  readonly path: string;
  /** Write a file owned by the sandbox user. */
  writeFile(name: string, content: string | Buffer, mode?: number): Promise<string>;
  /** Create a folder owned by the sandbox user (an existing one is kept). */
  makeDir(name: string): Promise<string>;
  /** Delete the directory and everything in it; verifies it is gone. */
  remove(): Promise<void>;
}

export async function createScratch(baseDir: string, identity: SandboxIdentity): Promise<Scratch> {
  let created: Awaited<ReturnType<typeof dir>>;
  try {
    created = await dir({ tmpdir: baseDir, prefix: 'agent-run-', mode: 0o700 });
    if (identity.mode === 'dedicated') await fs.chown(created.path, identity.uid, identity.gid);
  } catch (cause) {
    throw new ExecutorError(ERROR_CODES.WORKSPACE, `cannot create a scratch directory in ${baseDir}`, { cause });
  }
  const root = created.path;
  return {
    path: root,
    async writeFile(name, content, mode = 0o600) {
      const file = path.join(root, name);
      await fs.writeFile(file, content, { mode, flag: 'wx' });
      if (identity.mode === 'dedicated') await fs.chown(file, identity.uid, identity.gid);
      return file;
    },
    async makeDir(name) {
      const dirPath = path.join(root, name);
      await fs.mkdir(dirPath, { recursive: true, mode: 0o755 });
      if (identity.mode === 'dedicated') await fs.chown(dirPath, identity.uid, identity.gid);
      return dirPath;
    },
    remove: () => removeTree(root),
  };
}

// Deleted through directory descriptors (see fs-at/remove-tree.ts): the tree is the snippet's,
// so it may be deeper than PATH_MAX, full of chmod 000 folders, or have folders swapped for
// symlinks while root deletes it. Gone is verified, not assumed.
async function removeTree(root: string): Promise<void> {
  const name = Buffer.from(path.basename(root));
  const parent = openRoot(path.dirname(root));
  try {
    let failure: unknown;
    await removeAt(parent, name).catch((err: unknown) => (failure = err));
    if (existsAt(parent, name)) {
      throw new ExecutorError(ERROR_CODES.WORKSPACE, `scratch directory ${root} survived deletion`, { cause: failure });
    }
  } finally {
    close(parent);
  }
}
