// The folders a run's interpreter reads from the package (standby bootstraps, session kernels,
// display backends), copied where every run can see them.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Copy the bootstraps into the work dir (root's, never under a private tmpfs) and return where:
 * the package itself may live somewhere a run cannot see, such as a checkout under /tmp, which each
 * run's private /tmp hides. The folder is named for its content and put in place by a rename, so
 * daemons starting together on one work dir never delete each other's copy mid-use.
 */
export function installBootstraps(from: string, workDir: string): string {
  const files = fs
    .readdirSync(from, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(from, path.join(e.parentPath, e.name)))
    .sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f}\0`).update(fs.readFileSync(path.join(from, f))).update('\0');
  const to = path.join(workDir, `.standby-${hash.digest('hex').slice(0, 16)}`);
  if (fs.existsSync(to)) return to;
  const temp = `${to}.${process.pid}.tmp`;
  fs.rmSync(temp, { recursive: true, force: true });
  fs.cpSync(from, temp, { recursive: true, dereference: true });
  for (const entry of fs.readdirSync(temp, { recursive: true, withFileTypes: true })) {
    fs.chmodSync(path.join(entry.parentPath, entry.name), entry.isDirectory() ? 0o755 : 0o644);
  }
  fs.chmodSync(temp, 0o755);
  try {
    fs.renameSync(temp, to);
  } catch (err) {
    // Another daemon put the same content there first.
    fs.rmSync(temp, { recursive: true, force: true });
    if (!fs.existsSync(to)) throw err;
  }
  return to;
}
