// Write the artifacts of a run into a local folder as their parts arrive. Paths come from the
// executor, but a client trusts no path: each must be a plain relative path that stays inside the
// folder on any OS the client may run on — a name that is harmless on Linux (`..\..\x`, `C:x`,
// `.. `) escapes the folder or lands elsewhere on Windows.
import fs from 'node:fs';
import path from 'node:path';
import { ERROR_CODES, ExecutorError } from '../errors.js';
import type { FileEvent } from '../protocol/result.js';
import { relativePathSchema } from '../task/schema.js';

// Windows device names: `NUL`, `COM1.txt`... open the device, not a file in the folder.
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/**
 * Why `p` is not safe to write under a local folder; undefined when it is. What would escape the
 * folder on any OS is refused everywhere (so a path is judged the same wherever it is tested);
 * what only misleads Windows (a colon naming an NTFS stream, a device name) is refused there.
 */
export function unsafeArtifactPath(p: string, platform: NodeJS.Platform = process.platform): string | undefined {
  if (!relativePathSchema.safeParse(p).success) return 'not a plain relative path';
  if (p.includes('\\')) return 'a backslash is a separator on Windows';
  // "C:x" is relative to drive C's current folder, wherever the saver writes.
  if (/^[A-Za-z]:/.test(p)) return 'a drive letter on Windows';
  for (const seg of p.split('/')) {
    // Windows drops trailing dots and spaces: ".. " and "..." become "..", "a." becomes "a".
    if (/[. ]$/.test(seg)) return 'a segment ending in a dot or a space is renamed on Windows';
    if (platform === 'win32' && seg.includes(':')) return 'a colon names a drive or a stream on Windows';
    if (platform === 'win32' && WINDOWS_DEVICE.test(seg)) return 'a Windows device name';
  }
  // And what either family of path functions makes of it must stay inside a folder.
  for (const [paths, root] of [[path.posix, '/r'], [path.win32, 'C:\\r']] as const) {
    const inside = paths.relative(root, paths.resolve(root, p));
    if (inside === '' || inside.startsWith('..') || paths.isAbsolute(inside)) return `it leaves the folder (${paths === path.win32 ? 'Windows' : 'POSIX'} paths)`;
  }
  return undefined;
}

/**
 * An `onFile` callback writing each artifact under `dir`. A path it refuses throws (which ends the
 * follow) unless `onRefused` is given: then that is told and the file skipped — a snippet chooses
 * its file names, and one bad name should not cost the run's result.
 */
export function artifactSaver(dir: string, onRefused?: (err: ExecutorError) => void): (event: FileEvent) => void {
  const root = path.resolve(dir);
  return (event) => {
    try {
      const why = unsafeArtifactPath(event.path);
      if (why !== undefined) throw new ExecutorError(ERROR_CODES.ARTIFACT_PATH_REFUSED, `refusing artifact path ${JSON.stringify(event.path)}: ${why}`);
      const target = path.resolve(root, event.path);
      // The last word: whatever this OS makes of the path, it must stay inside the folder.
      const inside = path.relative(root, target);
      if (inside === '' || inside.startsWith('..') || path.isAbsolute(inside)) throw new ExecutorError(ERROR_CODES.ARTIFACT_PATH_REFUSED, `refusing artifact path ${JSON.stringify(event.path)}: it leaves ${root}`);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      if (event.part <= 1) fs.writeFileSync(target, event.data);
      else fs.appendFileSync(target, event.data);
    } catch (err) {
      if (!(err instanceof ExecutorError) || onRefused === undefined) throw err;
      onRefused(err);
    }
  };
}
