# Finds every folder the sandbox user can write to, outside its home, from the mount table (a
# read-only mount cannot be written whatever its permissions, so only read-write mounts are
# walked), into the set `found`. PSEUDO_FS is the daemon's own list (sandbox/writable-places.ts).
import os
home = os.getcwd()
skip_types = set(PSEUDO_FS)
roots = []
for line in open("/proc/self/mounts"):
    dev, point, kind, opts = line.split()[:4]
    point = point.replace("\040", " ")
    if "rw" in opts.split(",") and kind not in skip_types and not point.startswith(("/proc", "/sys")):
        roots.append(point)
found = set()
for root in sorted(set(roots)):
    try:
        root_dev = os.stat(root).st_dev
    except OSError:
        continue
    for d, subdirs, _ in os.walk(root):
        if d == home or d.startswith(home + "/"):
            subdirs[:] = []
            continue
        try:
            if os.stat(d).st_dev != root_dev:
                subdirs[:] = []
                continue
        except OSError:
            continue
        if os.access(d, os.W_OK | os.X_OK):
            found.add(d)
