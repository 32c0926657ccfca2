// Every world-writable folder on this machine's read-write mounts (POSIX message queues in
// /dev/mqueue included: under runc it is writable by everyone) that a sandbox user can actually
// reach — every folder above it searchable by others — : the places a snippet can leave files in.
// A world-writable folder under a root-only one (another container's root file system under
// /var/lib/docker, say) is not one: the sweep would delete files there that no run could have
// made. Found once at start-up from the mount table (a
// read-only mount cannot be written whatever its permissions), so that the sweep covers places an
// extended image added, not only the usual /tmp and /dev/shm.
import fs from 'node:fs';
import path from 'node:path';

export const PSEUDO_FS = new Set(['proc', 'sysfs', 'cgroup', 'cgroup2', 'devpts', 'securityfs', 'debugfs', 'tracefs', 'bpf', 'pstore', 'configfs', 'fusectl', 'binfmt_misc', 'autofs', 'hugetlbfs', 'efivarfs', 'nsfs']);
const MAX_DIRS = 200_000;

export function discoverWritablePlaces(exclude: readonly string[] = []): string[] {
  const found = new Set<string>();
  let visited = 0;
  for (const root of readWriteMounts()) {
    let rootDev: number;
    try {
      rootDev = fs.statSync(root).dev;
    } catch {
      continue;
    }
    // Only what lies below a mount point a sandbox user can reach is walked.
    if (!reachableByOthers(root)) continue;
    const stack = [root];
    while (stack.length > 0 && visited < MAX_DIRS) {
      const dir = stack.pop()!;
      visited += 1;
      if (exclude.some((e) => dir === e || dir.startsWith(`${e}/`))) continue;
      let st: fs.Stats;
      try {
        st = fs.lstatSync(dir);
      } catch {
        continue;
      }
      if (!st.isDirectory() || st.dev !== rootDev) continue;
      if ((st.mode & 0o002) !== 0) found.add(dir);
      // A folder others cannot search hides everything below it from a sandbox user.
      if ((st.mode & 0o001) === 0) continue;
      let entries: fs.Dirent[] = [];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) if (e.isDirectory()) stack.push(path.join(dir, e.name));
    }
  }
  return [...found].sort();
}

/** Whether every folder above `dir` (itself excluded) lets others search it. */
function reachableByOthers(dir: string): boolean {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    try {
      if ((fs.statSync(d).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (d === '/') return true;
  }
}

function readWriteMounts(): string[] {
  let table = '';
  try {
    table = fs.readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return ['/'];
  }
  const points = new Set<string>();
  for (const line of table.split('\n')) {
    const [, point, kind, opts] = line.split(' ');
    if (!point || !kind || !opts || PSEUDO_FS.has(kind) || !opts.split(',').includes('rw')) continue;
    const decoded = point.replace(/\\040/g, ' ');
    if (decoded.startsWith('/proc') || decoded.startsWith('/sys')) continue;
    points.add(decoded);
  }
  return [...points];
}
