// The findings of the outside security review (issue "Containment"), each as the attack that was
// shown, run through the same run code as the daemon: nothing of the daemon is ever within reach
// of a snippet, no state survives a run, and every resource a run holds is counted.
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readProcTable } from '../../src/sandbox/proc-table.js';
import { watcherCode } from '../../src/selftest/checks.js';
import { needsRoot } from '../helpers/env.js';
import { identity, runSnippet, runtimes, testSandbox } from '../helpers/run.js';

// Every uid the test sandbox may give a run (runSnippet runs as the first; the daemon gives each
// runtime its own): a check that looks at one uid only could miss the process it is about.
const SANDBOX_UIDS = Array.from({ length: runtimes.size + 1 }, (_, i) => identity.uid + i);

async function processesOfSandbox() {
  return (await Promise.all(SANDBOX_UIDS.map((uid) => readProcTable(uid)))).flat();
}

// Read here rather than trusted from the code under test: a process is alive while any of its
// threads is, whatever its leader's state says.
async function liveSandboxProcesses(): Promise<number[]> {
  const live: number[] = [];
  for (const p of await processesOfSandbox()) {
    const tids = fs.readdirSync(`/proc/${p.pid}/task`, { withFileTypes: false }) as string[];
    const states = tids.map((t) => fs.readFileSync(`/proc/${p.pid}/task/${t}/stat`, 'latin1').split(') ')[1]?.[0]);
    if (states.some((s) => s !== undefined && s !== 'Z' && s !== 'X')) live.push(p.pid);
  }
  return live;
}

describe.skipIf(needsRoot.skip)(`containment ${needsRoot.reason}`, () => {
  it('never runs anything as the sandbox user outside the run: a leftover watcher finds nothing to stop, read or write through', async () => {
    const token = randomUUID();
    process.env.AGENT_EXECUTOR_TEST_CANARY = token;
    try {
      // The review's attack: a process left behind watches /proc for new processes of its uid (the
      // sweep's helper), stops each one, reads its environment and writes through its root.
      const code = watcherCode([`tmp/escape-${token}`]);
      // Meanwhile, from outside: no process of the sandbox uid may ever hold the daemon's
      // environment (here the test process is the daemon).
      let holders = 0;
      let polling = true;
      const poll = (async () => {
        while (polling) {
          for (const p of await processesOfSandbox()) {
            const env = await fs.promises.readFile(`/proc/${p.pid}/environ`).catch(() => Buffer.alloc(0));
            // A child of the daemon itself under the sandbox uid is a helper of the daemon's.
            if (env.includes(token) || p.ppid === process.pid) holders += 1;
          }
          await new Promise((r) => setImmediate(r));
        }
      })();
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const r = await runSnippet('python', code);
        // A helper the watcher could stop would hold the run up (the old helper timed out).
        expect(Date.now() - started).toBeLessThan(3000);
        expect(r.stdout.toString()).toBe('watching\n');
        expect(r.result.sweep).toEqual({ clean: true });
        expect(fs.readdirSync('/tmp').filter((n) => n.startsWith(`escape-${token}`))).toEqual([]);
        expect(await liveSandboxProcesses()).toEqual([]);
      }
      polling = false;
      await poll;
      expect(holders).toBe(0);
    } finally {
      delete process.env.AGENT_EXECUTOR_TEST_CANARY;
      for (const n of fs.readdirSync('/tmp').filter((f) => f.startsWith(`escape-${token}`))) fs.rmSync(`/tmp/${n}`, { force: true });
    }
  });

  it('shows a snippet only the processes of its own run', async () => {
    const r = await runSnippet('bash', `[ -e /proc/${process.pid} ] && echo "sees the daemon"; echo "$$ $PPID"; ls /proc | grep -c '^[0-9]'`);
    expect(r.stdout.toString()).not.toMatch(/sees the daemon/);
    const [pids, count] = r.stdout.toString().trim().split('\n');
    // The snippet is not PID 1 (its init is): a PID 1 would ignore SIGTERM by default.
    expect(pids).toBe('2 1');
    expect(Number(count)).toBeLessThanOrEqual(4);
  });

  it('keeps the exit status and signal of the snippet itself, and SIGTERM still ends it', async () => {
    expect((await runSnippet('python', 'raise SystemExit(137)')).result).toMatchObject({ status: 'error', exitCode: 137, signal: null });
    expect((await runSnippet('bash', 'kill -KILL $$')).result).toMatchObject({ status: 'error', exitCode: null, signal: 'SIGKILL' });
    const term = await runSnippet('python', 'import time\nprint("up", flush=True)\ntime.sleep(60)', { limits: { wallMs: 500 } });
    expect(term.result).toMatchObject({ status: 'timeout', signal: 'SIGTERM' });
  });

  it('leaves no kernel keyring state: a key added in one run is not there for the next', async () => {
    const desc = `agent-executor-test-key-${randomUUID().slice(0, 8)}`;
    const add = [
      'import ctypes, os',
      'libc = ctypes.CDLL(None, use_errno=True)',
      // add_key("user", desc, data, len, KEY_SPEC_USER_KEYRING), then open it to everyone
      'k = libc.syscall(248 if os.uname().machine == "x86_64" else 217, b"user", b"${desc}", b"secret", 6, -4)',
      'print("added" if k > 0 else "refused " + os.strerror(ctypes.get_errno()))',
      'if k > 0: libc.syscall(250 if os.uname().machine == "x86_64" else 219, 5, k, 0x3f3f3f3f)',
    ].join('\n');
    const first = await runSnippet('python', add);
    const find = `grep -c ${desc} /proc/keys || true`;
    const again = await runSnippet('python', `import subprocess\nprint(subprocess.run(["sh", "-c", ${JSON.stringify(find)}], capture_output=True, text=True).stdout.strip())`);
    const other = await runSnippet('bash', find);
    expect(first.stdout.toString()).toMatch(/^refused /);
    expect(again.stdout.toString().trim()).toBe('0');
    expect(other.stdout.toString().trim()).toBe('0');
  });

  it('closes unprivileged user namespaces to snippets', async () => {
    const r = await runSnippet('bash', 'unshare --user --map-root-user true 2>/dev/null && echo "user namespace created" || echo refused');
    expect(r.stdout.toString()).toBe('refused\n');
  });

  it('counts memory held in memfds toward the memory limit', async () => {
    const code = [
      'import os',
      'fds = []',
      'for i in range(12):',
      '    fd = os.memfd_create(f"m{i}")',
      '    for _ in range(64):',
      '        os.write(fd, b"x" * (1 << 20))',
      '    fds.append(fd)',
      'print("held", len(fds) * 64, "MiB", flush=True)',
      'import time; time.sleep(5)',
    ].join('\n');
    const r = await runSnippet('python', code, { limits: { memoryBytes: 128 * 1024 ** 2, fileSizeBytes: 1024 ** 3 } });
    expect(r.result.status).toBe('memory_limit');
  });

  it('counts memory in files on the run\'s private tmpfs toward the memory limit', async () => {
    const r = await runSnippet('bash', 'for d in /tmp /var/tmp /dev/shm; do head -c 12M /dev/zero > $d/fill || true; done; sleep 5', {
      limits: { memoryBytes: 32 * 1024 ** 2 },
    });
    expect(r.result.status).toBe('memory_limit');
  });

  it('counts the CPU of processes that live less than one sample', async () => {
    // Each bash lives a few ms: the budget and the reported CPU must still see every one of them.
    const code = 'import subprocess\nwhile True:\n    subprocess.run(["bash", "-c", "for i in $(seq 200); do :; done"])';
    const r = await runSnippet('python', code, { limits: { cpuMs: 300, wallMs: 10_000 } });
    expect(r.result.status).toBe('cpu_limit');
    // Spawning flat out burns about a core: 300 ms of CPU are gone well within two seconds.
    expect(r.result.wallMs).toBeLessThan(2000);
    expect(r.result.cpuMs).toBeGreaterThanOrEqual(300);
    expect(r.result.cpuMs).toBeLessThan(300 + 500);
  });

  it('reports a limit only when one was enforced: a snippet that sends itself SIGXCPU or SIGXFSZ', async () => {
    expect((await runSnippet('bash', 'kill -XCPU $$')).result).toMatchObject({ status: 'error', signal: 'SIGXCPU' });
    expect((await runSnippet('bash', 'kill -XFSZ $$')).result).toMatchObject({ status: 'error', signal: 'SIGXFSZ' });
    const big = await runSnippet('bash', 'exec head -c 3000000 /dev/zero > big', { limits: { fileSizeBytes: 1024 ** 2 } });
    expect(big.result).toMatchObject({ status: 'file_size_limit', signal: 'SIGXFSZ' });
  });

  it('finds a process whose main thread has exited while its other threads run, and kills it', async () => {
    // The leader shows state Z in /proc/<pid>/stat; a thread of it lives on and could later
    // execve() into a normal process beside the next tenant.
    const code = [
      'import ctypes, os, threading, time',
      'if os.fork() == 0:',
      '    os.setsid()',
      '    def linger():',
      '        time.sleep(3)',
      '        open("/dev/shm/.planted-thread", "w").write("still here")',
      '    threading.Thread(target=linger).start()',
      '    ctypes.CDLL(None).syscall(60 if os.uname().machine == "x86_64" else 93, 0)',
      'time.sleep(0.3)',
      'print("hidden")',
    ].join('\n');
    try {
      const r = await runSnippet('python', code);
      expect(r.stdout.toString()).toBe('hidden\n');
      expect(await liveSandboxProcesses()).toEqual([]);
      expect(r.result.sweep).toEqual({ clean: true });
    } finally {
      for (const pid of await liveSandboxProcesses()) process.kill(pid, 'SIGKILL');
    }
  });

  it('keeps the daemon\'s descriptor count flat whatever a snippet starts', async () => {
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    await runSnippet('bash', 'true');
    const before = fds();
    for (let i = 0; i < 2; i++) {
      await runSnippet('bash', 'for i in $(seq 100); do sleep 0.3 & done; sleep 0.2; for i in $(seq 100); do sleep 0.3 & done; wait', { limits: { processes: 512 } });
    }
    expect(fds() - before).toBeLessThanOrEqual(2);
  });

  it('holds the same guarantees where a PID namespace cannot be had (the init is a subreaper, the kill comes from root)', async () => {
    const { capabilities } = await testSandbox();
    const environment = { capabilities: { ...capabilities, pidNamespace: false } };
    const term = await runSnippet('python', 'import time\nprint("up", flush=True)\ntime.sleep(60)', { limits: { wallMs: 500 }, environment });
    expect(term.result).toMatchObject({ status: 'timeout', signal: 'SIGTERM' });
    const left = await runSnippet('bash', '(trap "" TERM HUP; sleep 60) & disown; echo left', { environment });
    expect(left.result).toMatchObject({ status: 'ok', sweep: { clean: true } });
    expect(await liveSandboxProcesses()).toEqual([]);
    const cpu = await runSnippet('python', 'import subprocess\nwhile True:\n    subprocess.run(["bash", "-c", "for i in $(seq 200); do :; done"])', {
      limits: { cpuMs: 300, wallMs: 10_000 },
      environment,
    });
    expect(cpu.result.status).toBe('cpu_limit');
    expect(cpu.result.wallMs).toBeLessThan(2000);
    const bomb = await runSnippet('bash', 'bomb() { bomb | bomb & }; bomb', { limits: { wallMs: 2000 }, environment });
    expect(bomb.result.sweep).toEqual({ clean: true });
    expect(await liveSandboxProcesses()).toEqual([]);
  });
});
