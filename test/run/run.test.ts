// Runs of real snippets as a dedicated sandbox user: output, environment, budgets over the whole
// process tree, and that nothing of a run survives it.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readProcTable } from '../../src/sandbox/proc-table.js';
import { needsRoot, unique, waitFor } from '../helpers/env.js';
import { identity, runSnippet, runtimes } from '../helpers/run.js';

const GRACE_AND_SLACK_MS = 500;

async function sandboxProcesses(): Promise<number[]> {
  return (await readProcTable(identity.uid)).filter((p) => p.alive).map((p) => p.pid);
}

describe.skipIf(needsRoot.skip)(`runs as a sandbox user ${needsRoot.reason}`, () => {
  it('runs python, node and bash, separating stdout and stderr', async () => {
    const py = await runSnippet('python', 'import sys\nprint("out")\nprint("err", file=sys.stderr)');
    expect(py.result).toMatchObject({ status: 'ok', exitCode: 0, signal: null, stdoutBytes: 4, stderrBytes: 4, truncated: false });
    expect(py.stdout.toString()).toBe('out\n');
    expect(py.stderr.toString()).toBe('err\n');
    const js = await runSnippet('node', 'console.log("n"); console.error("e")');
    expect([js.stdout.toString(), js.stderr.toString(), js.result.status]).toEqual(['n\n', 'e\n', 'ok']);
    const sh = await runSnippet('bash', 'echo b; echo c >&2');
    expect([sh.stdout.toString(), sh.stderr.toString(), sh.result.status]).toEqual(['b\n', 'c\n', 'ok']);
  });

  it('runs ES module syntax in the node runtime', async () => {
    const r = await runSnippet('node', 'import os from "node:os";\nconsole.log(typeof os.cpus);');
    expect(r.stdout.toString()).toBe('function\n');
  });

  it('reports a non-zero exit and a death by its own signal as error', async () => {
    const exit = await runSnippet('python', 'raise SystemExit(3)');
    expect(exit.result).toMatchObject({ status: 'error', exitCode: 3, signal: null });
    const sig = await runSnippet('bash', 'kill -SEGV $$');
    expect(sig.result).toMatchObject({ status: 'error', exitCode: null, signal: 'SIGSEGV' });
  });

  it('keeps the task environment away from the launcher, which runs as root until setpriv', async () => {
    // Every program the launcher runs, planted in the scratch directory and put first on the
    // task's PATH, plus a BASH_ENV that bash would expand: none may run before the uid switch.
    const planted = ['unshare', 'bash', 'mount', 'ip', 'setpriv', 'env'].map((name) => ({
      path: name,
      content: `#!/bin/sh\necho "planted ${name} ran as uid $(id -u)" >&2\n`,
      encoding: 'utf8' as const,
      mode: 0o755,
    }));
    const r = await runSnippet('python', 'import os\nprint("snippet as", os.getuid())', {
      env: { PATH: '.:/usr/local/bin:/usr/bin:/bin', BASH_ENV: '$(echo BASH_ENV expanded as uid $(id -u) >&2)' },
      files: planted,
    });
    expect(r.stderr.toString()).not.toMatch(/planted|BASH_ENV expanded/);
    expect(r.stdout.toString()).toBe(`snippet as ${identity.uid}\n`);
    expect(r.result.status).toBe('ok');
  });

  it('runs as the sandbox user with an environment built from scratch', async () => {
    process.env.REDIS_URL ??= 'redis://secret';
    const r = await runSnippet(
      'python',
      'import os, json\nprint(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "env": dict(os.environ), "cwd": os.getcwd(), "nice": os.nice(0)}))',
      { env: { AGENT: 'x' } },
    );
    const seen = JSON.parse(r.stdout.toString());
    expect(seen.uid).toBe(identity.uid);
    expect(seen.gid).toBe(identity.gid);
    expect(seen.groups).toEqual([]);
    // Below the daemon's priority (SNIPPET_NICE), set by the run's init before the snippet exists.
    expect(seen.nice).toBe(10);
    // The base, the profile's own and its display variables (docs/display.md), then the task's.
    expect(Object.keys(seen.env).sort()).toEqual(['AGENT', 'HOME', 'LANG', 'MPLBACKEND', 'PATH', 'PYTHONDONTWRITEBYTECODE', 'PYTHONPATH', 'PYTHONUNBUFFERED', 'SANDBOX_DISPLAY_TOKEN']);
    expect(seen.env.HOME).toBe(seen.cwd);
    expect(JSON.stringify(seen.env)).not.toContain('redis://');
  });

  it('passes stdin and args', async () => {
    const r = await runSnippet('python', 'import sys\nprint(sys.argv[1:], sys.stdin.read())', { stdin: 'piped', args: ['a', 'b c'] });
    expect(r.stdout.toString()).toBe("['a', 'b c'] piped\n");
  });

  it('gives each run a new scratch directory and deletes it afterwards', async () => {
    const first = await runSnippet('bash', 'echo secret > mine.txt; pwd');
    const firstDir = first.stdout.toString().trim();
    expect(fs.existsSync(firstDir)).toBe(false);
    const second = await runSnippet('bash', `pwd; ls -A; test -e ${firstDir} && echo visible || echo gone`);
    const [dir, ...rest] = second.stdout.toString().trim().split('\n');
    expect(dir).not.toBe(firstDir);
    // The directory holds only the snippet's code file and its empty out/; the previous run's is gone.
    expect(rest).toEqual(['main.sh', 'out', 'gone']);
  });

  it('streams output while the snippet runs', async () => {
    // The snippet waits for a file in its own scratch directory (its /tmp is private), which the
    // test creates only after the first line has reached it.
    let sawFirst = false;
    let text = '';
    const r = await runSnippet(
      'python',
      'import os, time\nprint("first", os.getcwd(), flush=True)\nfor _ in range(1000):\n    if os.path.exists("go"): break\n    time.sleep(0.01)\nprint("second")',
      {
        onOutput: (_, d) => {
          text += d.toString();
          const m = /^first (\S+)\n/.exec(text);
          if (m && !sawFirst) {
            sawFirst = true;
            fs.writeFileSync(`${m[1]}/go`, '');
          }
        },
      },
    );
    expect(sawFirst).toBe(true);
    expect(r.stdout.toString()).toMatch(/^first \S+\nsecond\n$/);
    expect(r.result.wallMs).toBeLessThan(5000);
  });

  it('keeps the order of interleaved stdout and stderr', async () => {
    const r = await runSnippet('python', 'import sys, time\nfor i in range(4):\n    (sys.stdout if i % 2 == 0 else sys.stderr).write(str(i)); time.sleep(0.08)');
    expect(r.chunks.map(([k, d]) => `${k}:${d}`)).toEqual(['stdout:0', 'stderr:1', 'stdout:2', 'stderr:3']);
  });

  it('returns binary output byte for byte', async () => {
    const r = await runSnippet('python', 'import sys\nsys.stdout.buffer.write(bytes(range(256)) * 4)');
    expect(r.stdout.equals(Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256)))).toBe(true);
  });

  it('stops a sleeping snippet at the wall budget', async () => {
    const r = await runSnippet('bash', 'sleep 60', { limits: { wallMs: 1000 } });
    expect(r.result.status).toBe('timeout');
    expect(r.result.wallMs).toBeGreaterThanOrEqual(1000);
    expect(r.result.wallMs).toBeLessThan(1000 + GRACE_AND_SLACK_MS);
    expect(await sandboxProcesses()).toEqual([]);
  });

  it('ends a snippet that ignores SIGTERM within the grace', async () => {
    const r = await runSnippet('python', 'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint("ready", flush=True)\ntime.sleep(60)', {
      limits: { wallMs: 1000 },
    });
    expect(r.result).toMatchObject({ status: 'timeout', signal: 'SIGKILL' });
    expect(r.result.wallMs).toBeLessThan(1000 + GRACE_AND_SLACK_MS);
  });

  it('counts CPU over the whole tree: four forked burners stop at about the budget total', async () => {
    const code = 'import os\nfor _ in range(4):\n    if os.fork() == 0:\n        while True: pass\nwhile True: pass';
    const r = await runSnippet('python', code, { limits: { cpuMs: 1500 } });
    expect(r.result.status).toBe('cpu_limit');
    // The sampler acts when the budget will be gone before its next sample could show it, so the
    // last sample it reports may fall a little short of the budget.
    expect(r.result.cpuMs).toBeGreaterThanOrEqual(1500 - 150);
    expect(r.result.cpuMs).toBeLessThan(1500 + GRACE_AND_SLACK_MS);
    expect(await sandboxProcesses()).toEqual([]);
  });

  it('reports the CPU a run used', async () => {
    const r = await runSnippet('python', 'import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass');
    expect(r.result.status).toBe('ok');
    expect(r.result.cpuMs).toBeGreaterThanOrEqual(250);
  });

  it('leaves no process alive, not even one that called setsid and double-forked', async () => {
    const code = [
      'import os, time',
      'if os.fork() == 0:',
      '    os.setsid()',
      '    if os.fork() == 0:',
      '        print(os.getpid(), flush=True)',
      '        time.sleep(600)',
      '    os._exit(0)',
      'os.wait()',
      'time.sleep(0.2)',
    ].join('\n');
    const r = await runSnippet('python', code);
    expect(r.result.status).toBe('ok');
    const escaped = Number(r.stdout.toString().trim());
    expect(escaped).toBeGreaterThan(0);
    expect(await sandboxProcesses()).toEqual([]);
  });

  it('kills processes left in the background when the first process exits', async () => {
    const r = await runSnippet('bash', 'nohup sleep 600 >/dev/null 2>&1 & disown; (trap "" TERM HUP; sleep 600) & echo started');
    expect(r.result.status).toBe('ok');
    expect(await sandboxProcesses()).toEqual([]);
  });

  it('caps output: exactly the cap is kept, the run is ended and marked truncated', async () => {
    const r = await runSnippet('bash', 'yes flood', { limits: { outputBytes: 100_000 } });
    expect(r.result).toMatchObject({ status: 'output_limit', truncated: true, stdoutBytes: 100_000 });
    expect(r.stdout.length).toBe(100_000);
    expect(r.stdout.subarray(0, 12).toString()).toBe('flood\nflood\n');
  });

  it('reports a runtime that cannot start as internal_error', async () => {
    const missing = { ...runtimes.get('python')!, name: 'ghost', command: ['no-such-interpreter-xyz', '{file}'] };
    const r = await runSnippet('python', 'print(1)', { profile: missing });
    expect(r.result).toMatchObject({ status: 'internal_error', error: expect.stringMatching(/cannot start runtime "ghost"/) });
  });

  it('ends the run when the executor aborts it', async () => {
    const abort = new AbortController();
    const r = await runSnippet('python', 'import time\nprint("up", flush=True)\ntime.sleep(60)', {
      onOutput: () => abort.abort(),
      signal: abort.signal,
    });
    expect(r.result).toMatchObject({ status: 'internal_error', error: expect.stringMatching(/shut down/) });
    expect(await waitFor('sandbox empty', async () => ((await sandboxProcesses()).length === 0 ? true : undefined))).toBe(true);
  });
});

describe.skipIf(needsRoot.skip)(`per-run limits ${needsRoot.reason}`, () => {
  it('ends a run that outgrows its memory limit with memory_limit', async () => {
    const r = await runSnippet('python', 'x = bytearray(1024 ** 3)\nfor i in range(0, len(x), 4096): x[i] = 1', { limits: { memoryBytes: 128 * 1024 ** 2 } });
    expect(r.result).toMatchObject({ status: 'memory_limit', error: expect.stringMatching(/memory limit of 134217728 bytes/) });
  });

  it('reports a process killed by the file size limit as file_size_limit', async () => {
    const r = await runSnippet('bash', 'exec head -c 50000000 /dev/zero > big', { limits: { fileSizeBytes: 1024 * 1024 } });
    expect(r.result).toMatchObject({ status: 'file_size_limit', signal: 'SIGXFSZ' });
  });

  it('caps the number of processes of the sandbox user', async () => {
    const r = await runSnippet('python', 'import os\nn = 0\ntry:\n    while n < 200:\n        if os.fork() == 0:\n            import time; time.sleep(30)\n        n += 1\nexcept OSError as e:\n    print("fork refused after", n, e.errno)', { limits: { processes: 20 } });
    expect(r.stdout.toString()).toMatch(/^fork refused after 1\d 11$/m);
  });

  it('applies the open-files limit and turns core dumps off', async () => {
    const r = await runSnippet('python', 'import resource as r\nprint(r.getrlimit(r.RLIMIT_NOFILE)[0], r.getrlimit(r.RLIMIT_CORE)[0], r.getrlimit(r.RLIMIT_CPU)[0])', {
      limits: { openFiles: 77, cpuMs: 2500 },
    });
    expect(r.stdout.toString()).toBe('77 0 4\n');
  });

  it('gives each run its own empty /tmp and no network', async () => {
    const first = await runSnippet('bash', 'echo secret > /tmp/left; echo secret > /dev/shm/left; ls /tmp');
    expect(first.stdout.toString()).toBe('left\n');
    const second = await runSnippet('python', 'import os, socket\nprint(os.listdir("/tmp"), os.listdir("/dev/shm"))\ntry:\n    socket.create_connection(("1.1.1.1", 53), timeout=1)\n    print("online")\nexcept OSError as e:\n    print("offline")');
    expect(second.stdout.toString()).toBe('[] []\noffline\n');
  });

  it('mounts its private folders as size-limited tmpfs, nosuid and nodev, and has a loopback that works', async () => {
    const r = await runSnippet('python', String.raw`
import os, socket
mounts = {}
for line in open("/proc/self/mounts"):
    source, target, kind, options = line.split()[:4]
    mounts[target] = (source, kind, "nosuid" in options.split(","), "nodev" in options.split(","))
print([mounts.get(d) for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")])
print(os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize)
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
client = socket.create_connection(server.getsockname(), timeout=2)
print("loopback", server.accept()[0].recv(0) == b"")
`);
    const tmpfs = `('agent-executor-run', 'tmpfs', True, True)`;
    expect(r.stderr.toString()).toBe('');
    // The test sandbox's tmpBytes (16 MiB).
    expect(r.stdout.toString()).toBe(`[${[tmpfs, tmpfs, tmpfs, tmpfs].join(', ')}]\n${16 * 1024 ** 2}\nloopback True\n`);
  });
});
