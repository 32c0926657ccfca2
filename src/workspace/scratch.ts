// A run's scratch directory: its cwd and HOME, new for every run, owned by the sandbox user and
// closed to everyone else, deleted after the run.
import fs from 'node:fs/promises';
import path from 'node:path';
import { dir } from 'tmp-promise';
import { ERROR_CODES, ExecutorError } from '../errors.js';
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

// A snippet can make its own files undeletable for a non-root owner (chmod 000 on a folder), so
// when the plain delete fails, give the owner its permissions back and try once more.
async function removeTree(root: string): Promise<void> {
  try {
    await fs.rm(root, { recursive: true, force: true, maxRetries: 2 });
  } catch {
    await restorePermissions(root);
    await fs.rm(root, { recursive: true, force: true, maxRetries: 2 });
  }
  try {
    await fs.access(root);
  } catch {
    return;
  }
  throw new ExecutorError(ERROR_CODES.WORKSPACE, `scratch directory ${root} survived deletion`);
}

async function restorePermissions(dirPath: string): Promise<void> {
  await fs.chmod(dirPath, 0o700).catch(() => undefined);
  const entries = await fs.readdir(dirPath, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isDirectory()) await restorePermissions(path.join(dirPath, entry.name));
  }
}
