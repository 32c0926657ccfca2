// The run after each hostile snippet: it looks, from inside a fresh run, for anything the previous
// run left — processes of the sandbox user, its files in the shared writable places, planted
// markers anywhere, a changed home. A reused sandbox must look identical to a fresh one.

/** The probe's code; `markerDirs` are searched for planted markers beside the usual places. */
export const probeCode = (markerDirs: readonly string[]) => String.raw`
import json, os, stat
me, self_pid = os.getuid(), os.getpid()
procs = []
for p in os.listdir("/proc"):
    if p.isdigit() and int(p) != self_pid:
        try:
            # Zombies are dead; whoever reaps orphans (PID 1) may not have got to them yet.
            dead = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
            if os.stat(f"/proc/{p}").st_uid == me and not dead:
                procs.append(int(p))
        except OSError:
            pass
# Names are bytes: one that is not UTF-8 is still a leftover (shown with backslash escapes).
def shown(p):
    return p.decode("utf-8", "backslashreplace")
def mine(root, depth=0):
    found = []
    try:
        names = os.listdir(root)
    except OSError:
        return found
    for n in names:
        p = os.path.join(root, n)
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if st.st_uid == me:
            found.append(shown(p))
        elif stat.S_ISDIR(st.st_mode) and depth < 8 and st.st_mode & 0o022:
            found += mine(p, depth + 1)
    return found
leftovers = []
for d in (b"/tmp", b"/var/tmp", b"/dev/shm", b"/run/lock", b"/dev/mqueue"):
    leftovers += mine(d)
home = sorted(n for n in os.listdir(".") if n != "main.py" and not (n == "out" and os.listdir("out") == []))
markers = []
for d in ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue"] + ` + "json.loads(" + JSON.stringify(JSON.stringify(markerDirs)) + ")" + String.raw`:
    b = os.fsencode(d)
    try:
        markers += [shown(os.path.join(b, n)) for n in os.listdir(b) if n.startswith((b".planted-", b"planted-", b"late-"))]
    except OSError:
        pass
print(json.dumps({"procs": procs, "leftovers": leftovers, "home": home, "markers": sorted(set(markers)), "env": sorted(os.environ)}))
`;

export interface ProbeFindings {
  procs: number[];
  leftovers: string[];
  home: string[];
  markers: string[];
  env: string[];
}

// The base, the python profile's own, and its display variables (docs/display.md).
const EXPECTED_ENV = ['HOME', 'LANG', 'PATH', 'PYTHONDONTWRITEBYTECODE', 'PYTHONUNBUFFERED', 'SANDBOX_DISPLAY_TOKEN', 'MPLBACKEND', 'PYTHONPATH'];

/** What the probe saw that a fresh sandbox would not have; empty when clean. */
export function problemsIn(f: ProbeFindings): string[] {
  const problems: string[] = [];
  if (f.procs.length) problems.push(`processes of the sandbox user alive: ${f.procs.join(', ')}`);
  if (f.leftovers.length) problems.push(`files of the sandbox user left: ${f.leftovers.slice(0, 10).join(', ')}`);
  if (f.home.length) problems.push(`home not fresh: ${f.home.join(', ')}`);
  if (f.markers.length) problems.push(`planted files survived: ${f.markers.slice(0, 10).join(', ')}`);
  const extra = f.env.filter((k) => !EXPECTED_ENV.includes(k));
  if (extra.length) problems.push(`unexpected environment: ${extra.join(', ')}`);
  return problems;
}
