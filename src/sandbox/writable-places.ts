// Every world-writable folder on this machine's read-write mounts (POSIX message queues in
// /dev/mqueue included: under runc it is writable by everyone): the places any user, the
// sandbox user included, can leave files in. Found once at start-up from the mount table (a
// read-only mount cannot be written whatever its permissions), so that the sweep covers places an
// extended image added, not only the usual /tmp and /dev/shm.
import fs from 'node:fs';
import path from 'node:path';

const PSEUDO_FS = new Set(['proc', 'sysfs', 'cgroup', 'cgroup2', 'devpts', 'securityfs', 'debugfs', 'tracefs', 'bpf', 'pstore', 'configfs', 'fusectl', 'binfmt_misc', 'autofs', 'hugetlbfs', 'efivarfs', 'nsfs']);
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
