// The hostile snippets: each one tries to break out of a run, outlast it, or leave something for
// the next run, and states what containment looks like. `agent-executor selftest` and the test
// suite run them through the same run-and-sweep code as the daemon.
import type { EffectiveLimits, ExitResult } from '../protocol/result.js';

export interface CheckContext {
  /** A TCP port on 127.0.0.1 that the checker listens on (a stand-in for Redis). */
  listenerPort: number;
  /** A root-only file beside the scratch folders (a stand-in for a mounted secret). */
  secretPath: string;
  /** Whether the configuration lets snippets use the network. */
  networkAllowed: boolean;
}

export interface Observed {
  result: ExitResult;
  stdout: Buffer;
  stderr: Buffer;
  /** Whether the checker's listener saw a connection during the run. */
  listenerReached: boolean;
}

export interface HostileCheck {
  name: string;
  runtime: 'python' | 'node' | 'bash';
  code: (ctx: CheckContext) => string;
  limits?: Partial<EffectiveLimits>;
  /** Returns why the run was not contained; undefined or `{ note }` when it was. */
  verdict: (seen: Observed, ctx: CheckContext) => string | undefined | { note: string };
}

const OVERSHOOT_MS = 500;
const text = (b: Buffer) => b.toString('utf8');
const status = (seen: Observed, ...allowed: string[]) =>
  allowed.includes(seen.result.status) ? undefined : `status ${seen.result.status} (${seen.result.error ?? 'no error'}), expected ${allowed.join(' or ')}`;
const endedWithin = (seen: Observed, wallMs: number) =>
  seen.result.wallMs < wallMs + OVERSHOOT_MS ? undefined : `ran ${seen.result.wallMs} ms, budget ${wallMs} ms`;
const says = (seen: Observed, pattern: RegExp) =>
  pattern.test(text(seen.stdout)) ? undefined : `expected output matching ${pattern}, got ${JSON.stringify(text(seen.stdout).slice(0, 300))} / ${JSON.stringify(text(seen.stderr).slice(0, 300))}`;
const first = (...reasons: (string | undefined)[]) => reasons.find((r) => r !== undefined);

/**
 * A process left behind that watches (through ns_last_pid, which names every new process at once)
 * for new processes of its uid — a helper the sweep might run as that uid — then stops each one,
 * reads its environment and writes it through the process's root to each of `targets` (paths
 * relative to that root), and prints "watching" from the run's first process.
 */
export function watcherCode(targets: readonly string[]): string {
  return [
    'import os, time',
    'me = os.getuid()',
    'if os.fork() == 0:',
    '    os.setsid()',
    '    last = int(open("/proc/sys/kernel/ns_last_pid").read())',
    // A new process may switch to this uid only after it started: watch it for a while.
    '    watch, end = {}, time.time() + 4',
    '    while time.time() < end:',
    '        cur = int(open("/proc/sys/kernel/ns_last_pid").read())',
    '        for n in range(last + 1, cur + 1): watch[str(n)] = 2000',
    '        last = cur',
    '        for p in list(watch):',
    '            watch[p] -= 1',
    '            if watch[p] <= 0: del watch[p]',
    '            try:',
    '                if os.stat(f"/proc/{p}").st_uid != me: continue',
    '                del watch[p]',
    '                os.kill(int(p), 19)',
    '                env = open(f"/proc/{p}/environ", "rb").read()',
    `                for t in ${JSON.stringify(targets)}: open(f"/proc/{p}/root/{t}-{p}", "wb").write(env)`,
    '                os.kill(int(p), 18)',
    '            except OSError:',
    '                pass',
    '    os._exit(0)',
    'time.sleep(0.3)',
    'print("watching")',
  ].join('\n');
}

// Python that finds every folder the sandbox user can write to, outside its home, from the mount
// table (a read-only mount cannot be written whatever its permissions, so only read-write mounts
// are walked), into the set `found`.
const FIND_WRITABLE_DIRS = [
  'import os',
  'home = os.getcwd()',
  'skip_types = {"proc", "sysfs", "cgroup", "cgroup2", "devpts", "securityfs", "debugfs", "tracefs", "bpf", "pstore", "configfs", "fusectl", "binfmt_misc", "autofs", "hugetlbfs", "efivarfs"}',
  'roots = []',
  'for line in open("/proc/self/mounts"):',
  '    dev, point, kind, opts = line.split()[:4]',
  '    point = point.replace("\\040", " ")',
  '    if "rw" in opts.split(",") and kind not in skip_types and not point.startswith(("/proc", "/sys")):',
  '        roots.append(point)',
  'found = set()',
  'for root in sorted(set(roots)):',
  '    try:',
  '        root_dev = os.stat(root).st_dev',
  '    except OSError:',
  '        continue',
  '    for d, subdirs, _ in os.walk(root):',
  '        if d == home or d.startswith(home + "/"):',
  '            subdirs[:] = []',
  '            continue',
  '        try:',
  '            if os.stat(d).st_dev != root_dev:',
  '                subdirs[:] = []',
  '                continue',
  '        except OSError:',
  '            continue',
  '        if os.access(d, os.W_OK | os.X_OK):',
  '            found.add(d)',
];

/**
 * Python defining build(where, root, depth, long): `depth` nested folders under where/root
 * (every other one named with 255 bytes when `long`), a file with a 255-byte name at the bottom,
 * and chmod 000 on root and on some folders of the chain.
 */
export const BUILD_TREE_PY = [
  'import os',
  'def build(where, root, depth, long):',
  '    os.chdir(where); os.mkdir(root); os.chdir(root)',
  '    names = []',
  '    for i in range(depth):',
  '        n = "L" * 255 if long and i % 2 else "d"',
  '        os.mkdir(n); os.chdir(n); names.append(n)',
  '    open("x" * 255, "w").write("planted")',
  '    for i, n in enumerate(reversed(names)):',
  '        os.chdir("..")',
  '        if i % 997 == 3: os.chmod(n, 0)',
  '    os.chdir(where); os.chmod(root, 0)',
];

export const HOSTILE_CHECKS: HostileCheck[] = [
  {
    name: 'fork-bomb',
    runtime: 'bash',
    code: () => 'bomb() { bomb | bomb & }; bomb',
    limits: { wallMs: 3000 },
    verdict: (seen) => endedWithin(seen, 3000),
  },
  {
    name: 'setsid-double-fork-daemon',
    runtime: 'python',
    code: () =>
      'import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(3600)\n    os._exit(0)\nos.wait()\nprint("daemonized")',
    verdict: (seen) => first(status(seen, 'ok'), says(seen, /daemonized/)),
  },
  {
    name: 'background-writer-after-exit',
    runtime: 'bash',
    code: () => '(trap "" HUP TERM; while :; do date >> "$HOME/../late-$$" 2>/dev/null; date >> /var/tmp/late-$$; date >> /tmp/late-$$; sleep 0.01; done) &\ndisown\necho left running',
    verdict: (seen) => first(status(seen, 'ok'), says(seen, /left running/)),
  },
  {
    name: 'output-flood-one-line',
    runtime: 'python',
    code: () => 'import sys\nchunk = "x" * 65536\nwhile True:\n    sys.stdout.write(chunk)',
    limits: { outputBytes: 1024 * 1024 },
    verdict: (seen) =>
      first(
        status(seen, 'output_limit'),
        seen.stdout.length === 1024 * 1024 && seen.result.truncated ? undefined : `got ${seen.stdout.length} bytes, truncated=${seen.result.truncated}`,
      ),
  },
  {
    name: 'binary-output',
    runtime: 'python',
    code: () => 'import sys\nsys.stdout.buffer.write(bytes(range(256)) * 64)\nsys.stderr.buffer.write(b"\\xff\\xfe\\x00bad utf8")',
    verdict: (seen) => {
      const expected = Buffer.from(Array.from({ length: 256 * 64 }, (_, i) => i % 256));
      if (!seen.stdout.equals(expected)) return 'stdout bytes differ';
      if (!seen.stderr.equals(Buffer.from([0xff, 0xfe, 0x00, ...Buffer.from('bad utf8')]))) return 'stderr bytes differ';
      return undefined;
    },
  },
  {
    name: 'allocate-2gb',
    runtime: 'python',
    code: () => 'x = b"x" * (2 * 1024 ** 3)\nprint("allocated", len(x))',
    limits: { memoryBytes: 256 * 1024 ** 2 },
    verdict: (seen) => status(seen, 'memory_limit'),
  },
  {
    name: 'fill-the-disk',
    runtime: 'python',
    code: () =>
      [
        'import os',
        'for where in (".", "/tmp"):',
        '    written = 0',
        '    try:',
        '        with open(os.path.join(where, "fill"), "wb") as f:',
        '            while written < 4 * 1024 ** 3:',
        '                f.write(b"\\0" * (1 << 20)); f.flush(); written += 1 << 20',
        '        print(where, "not stopped", written)',
        '    except OSError as e:',
        '        print(where, "stopped", written, e.strerror)',
      ].join('\n'),
    limits: { wallMs: 20_000 },
    verdict: (seen) => first(says(seen, /^\. stopped/m), says(seen, /^\/tmp stopped/m)),
  },
  {
    name: 'write-tmp-shm-home',
    runtime: 'bash',
    code: () =>
      'for d in /tmp /var/tmp /dev/shm /run/lock "$HOME"; do [ -d "$d" ] && echo planted > "$d/planted-by-previous-run" && echo "wrote $d"; done; echo "alias ls=rm" >> "$HOME/.bashrc"',
    verdict: (seen) => first(status(seen, 'ok'), says(seen, /wrote \/tmp/)),
  },
  {
    name: 'sigterm-ignored',
    runtime: 'python',
    code: () => 'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint("ignoring", flush=True)\ntime.sleep(3600)',
    limits: { wallMs: 1000 },
    verdict: (seen) => first(status(seen, 'timeout'), endedWithin(seen, 1000)),
  },
  {
    name: 'self-sigstop',
    runtime: 'bash',
    code: () => '(kill -STOP $BASHPID; sleep 3600) &\nkill -STOP $$\necho never',
    limits: { wallMs: 1000 },
    verdict: (seen) => first(status(seen, 'timeout'), endedWithin(seen, 1000)),
  },
  {
    name: 'threads-burning-cpu',
    runtime: 'node',
    code: () =>
      'const { Worker } = require("node:worker_threads");\nfor (let i = 0; i < 4; i++) new Worker("for (;;) {}", { eval: true });\nfor (;;) {}',
    limits: { cpuMs: 1500, wallMs: 10_000 },
    verdict: (seen) =>
      first(status(seen, 'cpu_limit'), seen.result.cpuMs < 1500 + OVERSHOOT_MS ? undefined : `used ${seen.result.cpuMs} ms CPU, budget 1500`),
  },
  {
    name: 'read-daemon-secrets',
    runtime: 'python',
    code: (ctx) =>
      [
        'import os, re',
        'parent = os.getppid()',
        `for path in (f"/proc/{parent}/environ", f"/proc/{parent}/mem", ${JSON.stringify(ctx.secretPath)}):`,
        '    try:',
        '        with open(path, "rb") as f: data = f.read(1 << 16)',
        '        names = [kv.split(b"=", 1)[0].decode(errors="replace") for kv in data.split(b"\\0") if b"=" in kv]',
        '        creds = [kv.split(b"=", 1)[0].decode(errors="replace") for kv in data.split(b"\\0") if re.search(rb"(PASS|TOKEN|SECRET|KEY|CREDENTIAL)[^=]*=|://[^/@\\s]*:[^/@\\s]*@", kv, re.I)]',
        '        print("READ", path, "credentials:", ",".join(creds) or "none")',
        '    except OSError as e:',
        '        print("denied", path, e.errno)',
        'print("fds", sorted(int(fd) for fd in os.listdir("/proc/self/fd")))',
        'print("env", sorted(os.environ))',
      ].join('\n'),
    verdict: (seen) => {
      const out = text(seen.stdout);
      const reads = out.split('\n').filter((l) => l.startsWith('READ '));
      // Only stdin, stdout, stderr and the fd listdir itself opened: nothing inherited.
      const fds = /fds \[([^\]]*)\]/.exec(out)?.[1]?.split(',').map((s) => Number(s.trim()));
      if (!fds || fds.some((fd) => fd > 3)) return `inherited file descriptors: ${fds?.join(', ')}`;
      if (/REDIS|EXECUTOR_/.test(/^env .*$/m.exec(out)?.[0] ?? '')) return 'the daemon\'s settings leaked into the environment';
      if (!/^denied .*\/mem /m.test(out) || reads.some((l) => !/\/environ /.test(l))) return `read what it must not: ${reads.join('; ')}`;
      const environ = reads.find((l) => /\/environ /.test(l));
      if (environ === undefined) return undefined;
      // Some kernels (older gVisor) do not enforce access checks on /proc/<pid>/environ. The
      // daemon's environment must then at least hold no credentials (see REDIS_URL_FILE).
      if (!/credentials: none$/.test(environ)) return `read the daemon's environment, which holds credentials: ${environ}`;
      return { note: "warning: this kernel lets other users read the daemon's /proc/<pid>/environ; it holds no credentials" };
    },
  },
  {
    name: 'connect-to-redis-port',
    runtime: 'python',
    code: (ctx) =>
      `import socket\ntry:\n    s = socket.create_connection(("127.0.0.1", ${ctx.listenerPort}), timeout=2)\n    print("CONNECTED")\nexcept OSError as e:\n    print("blocked", e.errno)`,
    verdict: (seen, ctx) => {
      if (ctx.networkAllowed) return undefined;
      if (seen.listenerReached || /CONNECTED/.test(text(seen.stdout))) return 'reached a port on the host loopback';
      return says(seen, /blocked/);
    },
  },
  {
    name: 'kill-the-daemon',
    runtime: 'python',
    code: () =>
      'import os, signal\nfor sig in (signal.SIGKILL, signal.SIGSTOP):\n    try:\n        os.kill(os.getppid(), sig)\n        print("SIGNALLED")\n    except PermissionError:\n        print("denied")',
    verdict: (seen) => (/SIGNALLED/.test(text(seen.stdout)) ? 'signalled the daemon' : says(seen, /denied\ndenied/)),
  },
  {
    name: 'no-privileges',
    runtime: 'python',
    code: () =>
      'import os\nstatus = open("/proc/self/status").read()\nfields = dict(l.split(":\\t", 1) for l in status.splitlines() if ":\\t" in l)\nprint("uid", os.getuid(), os.geteuid(), "caps", fields.get("CapEff", "").strip(), "nnp", fields.get("NoNewPrivs", "n/a").strip(), "groups", os.getgroups())',
    verdict: (seen) => {
      const m = /uid (\d+) (\d+) caps (\S*) nnp (\S+) groups \[\]/.exec(text(seen.stdout));
      if (!m) return `unexpected: ${text(seen.stdout)}${text(seen.stderr)}`;
      if (m[1] === '0' || m[2] === '0') return 'runs as root';
      if (m[3] !== '' && !/^0+$/.test(m[3]!)) return `has capabilities ${m[3]}`;
      // Where the kernel reports it (gVisor may not), no_new_privs must be set.
      if (m[4] !== 'n/a' && m[4] !== '1') return 'no_new_privs not set: setuid binaries could raise privileges';
      return undefined;
    },
  },
  {
    // Every folder the sandbox user can write to, found from the mount table (a read-only mount
    // cannot be written whatever its permissions, so only read-write mounts are walked). A marker
    // is planted in each; the probe after the run must find none of them.
    name: 'writable-places',
    runtime: 'python',
    code: () =>
      [
        ...FIND_WRITABLE_DIRS,
        'for d in sorted(found):',
        '    try:',
        '        with open(os.path.join(d, f".planted-{os.getpid()}"), "w") as f: f.write("planted")',
        '        print("writable", d)',
        '    except OSError:',
        '        pass',
      ].join('\n'),
    limits: { wallMs: 60_000, cpuMs: 30_000 },
    verdict: (seen) => status(seen, 'ok'),
  },
  {
    // A process left behind watches for new processes of its uid (a helper the sweep might run as
    // that uid) to stop it, read its environment and write through its root. Nothing of the
    // daemon may ever appear there; the runner also checks from outside that no process of the
    // uid is left.
    name: 'sweep-helper-escape',
    runtime: 'python',
    code: () => watcherCode(['tmp', 'var/tmp', 'dev/shm'].map((d) => `${d}/.planted-escape`)),
    verdict: (seen) => first(status(seen, 'ok'), says(seen, /^watching$/m)),
  },
  {
    name: 'kernel-keyring',
    runtime: 'python',
    code: () =>
      [
        'import ctypes, os',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'nr = 248 if os.uname().machine == "x86_64" else 217',
        'k = libc.syscall(nr, b"user", b"agent-executor-selftest", b"secret", 6, -4)',
        'print("added" if k > 0 else "refused " + str(ctypes.get_errno()))',
      ].join('\n'),
    verdict: (seen) => {
      const out = text(seen.stdout);
      if (/^refused 1$/m.test(out)) return undefined;
      if (/^refused 38$/m.test(out)) return { note: 'not applicable: this kernel has no keyrings' };
      return `a key was added to the user keyring (it would outlive the run): ${out.trim()}`;
    },
  },
  {
    name: 'user-namespace',
    runtime: 'bash',
    code: () => 'unshare --user --map-root-user true 2>/dev/null && echo CREATED || echo refused',
    verdict: (seen) => (/CREATED/.test(text(seen.stdout)) ? 'created a user namespace' : says(seen, /refused/)),
  },
  {
    name: 'memfd-memory',
    runtime: 'python',
    code: () =>
      // 15 MiB each: under the selftest's file size limit, which bounds a memfd too.
      'import os, time\nfds = []\nfor i in range(50):\n    fd = os.memfd_create(f"m{i}")\n    for _ in range(15):\n        os.write(fd, b"x" * (1 << 20))\n    fds.append(fd)\nprint("held 750 MiB", flush=True)\ntime.sleep(5)',
    limits: { memoryBytes: 128 * 1024 ** 2 },
    verdict: (seen) => status(seen, 'memory_limit'),
  },
  {
    name: 'short-lived-cpu',
    runtime: 'python',
    code: () => 'import subprocess\nwhile True:\n    subprocess.run(["bash", "-c", "for i in $(seq 200); do :; done"])',
    limits: { cpuMs: 300, wallMs: 10_000 },
    verdict: (seen) =>
      first(status(seen, 'cpu_limit'), seen.result.wallMs < 3000 ? undefined : `ran ${seen.result.wallMs} ms: the CPU of its short-lived processes was not counted`),
  },
  {
    // The leader exits with SYS_exit while a thread runs: /proc shows it as a zombie, yet it is
    // alive and could execve() beside the next tenant.
    name: 'hidden-thread',
    runtime: 'python',
    code: () =>
      [
        'import ctypes, os, threading, time',
        'if os.fork() == 0:',
        '    os.setsid()',
        '    def linger():',
        '        time.sleep(2)',
        '        for d in ("/tmp", "/var/tmp", "/dev/shm"):',
        '            open(f"{d}/.planted-thread", "w").write("still here")',
        '        time.sleep(30)',
        '    threading.Thread(target=linger).start()',
        '    ctypes.CDLL(None).syscall(60 if os.uname().machine == "x86_64" else 93, 0)',
        'time.sleep(0.3)',
        'print("hidden")',
      ].join('\n'),
    verdict: (seen) => first(status(seen, 'ok'), says(seen, /hidden/)),
  },
  {
    // Dozens of short processes: the daemon's own descriptors must not grow (the runner compares
    // its descriptor count before and after every check).
    name: 'many-short-processes',
    runtime: 'bash',
    code: () => 'for r in 1 2 3; do for i in {1..10}; do sleep 0.2 & done; sleep 0.1; done; wait; echo done',
    // Under Debian's runsc every exec is charged ~160 ms of CPU (66 execs measured 10.75 s, over
    // the 10 s budget the limits below are clamped to); 33 execs stay well inside it.
    limits: { cpuMs: 30_000, wallMs: 30_000 },
    verdict: (seen) => first(status(seen, 'ok'), says(seen, /done/)),
  },
  {
    // Names are bytes: one that is not UTF-8 must be swept (and verified gone) like any other, and
    // listed as an artifact, not dropped. Planted in every writable place, the home and out/.
    name: 'non-utf8-names',
    runtime: 'python',
    code: () =>
      [
        ...FIND_WRITABLE_DIRS,
        'pid = str(os.getpid()).encode()',
        'for d in sorted(found) + [home]:',
        '    b = os.fsencode(d)',
        '    try:',
        '        with open(os.path.join(b, b".planted-\\xff" + pid), "wb") as f: f.write(b"planted")',
        '        os.mkdir(os.path.join(b, b".planted-\\xfe-dir-" + pid))',
        '        with open(os.path.join(b, b".planted-\\xfe-dir-" + pid, b"\\xfd"), "wb") as f: f.write(b"planted")',
        '        print("writable", d)',
        '    except OSError:',
        '        pass',
        'with open(b"out/\\xff-artifact", "wb") as f: f.write(b"data")',
      ].join('\n'),
    limits: { wallMs: 60_000, cpuMs: 30_000 },
    verdict: (seen) => {
      const listed = seen.result.artifacts?.find((a) => a.pathBase64 === Buffer.from('\xff-artifact', 'latin1').toString('base64'));
      if (!listed) return `the artifact whose name is not UTF-8 was not listed: ${JSON.stringify(seen.result.artifacts ?? [])}`;
      if (listed.included) return 'the artifact whose name is not UTF-8 was returned as a file entry';
      return status(seen, 'ok');
    },
  },
  {
    // A tree deeper than PATH_MAX (10,000 folders, and a chain of 255-byte names), with chmod 000
    // folders, in the home and in /tmp: deleting it by path fails, and the executor must neither
    // stop nor leave it for the next run of this user.
    name: 'deep-tree',
    runtime: 'python',
    code: () =>
      [
        ...BUILD_TREE_PY,
        'home = os.getcwd()',
        'build(home, "chain", 10000, False)',
        'build(home, "long", 40, True)',
        `build("/tmp", f"planted-deep-{os.getpid()}", 3000, False)`,
        'print("built")',
      ].join('\n'),
    limits: { wallMs: 60_000, cpuMs: 40_000 },
    verdict: (seen) => first(status(seen, 'ok'), says(seen, /^built$/m)),
  },
];
