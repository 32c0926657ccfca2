// Standby interpreters, through the real daemon: a task handed to an interpreter started ahead of
// time must see exactly what a freshly started one sees, carry nothing over from earlier tasks,
// and a snippet must not be able to reach the standby waiting beside it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_RUNTIMES_DIR } from '../../src/runtimes/load.js';
import { readProc, readProcTable } from '../../src/sandbox/proc-table.js';
import { DaemonProcess, daemonEnv } from '../helpers/daemon.js';
import { connect, needsRoot, sandboxUid, unique, waitFor } from '../helpers/env.js';
import { exitResult, output, readUntilExit } from '../helpers/results.js';

const redis = connect();
const daemons: DaemonProcess[] = [];

afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()));
});

function startDaemon(env: Record<string, string> = {}): { daemon: DaemonProcess; stream: string } {
  const stream = unique('standby');
  const daemon = new DaemonProcess(daemonEnv({ stream, uid: sandboxUid(10) }, env));
  daemons.push(daemon);
  return { daemon, stream };
}

interface Ran {
  stdout: string;
  stderr: string;
  result: Record<string, unknown>;
  standby: boolean;
}

async function run(d: { daemon: DaemonProcess; stream: string }, task: Record<string, unknown>): Promise<Ran> {
  const id = unique('t');
  await redis.xadd(d.stream, '*', 'task', JSON.stringify({ id, ...task }));
  const entries = await readUntilExit(redis, id);
  const started = await d.daemon.waitForLog('run started', (l) => l.taskId === id);
  return {
    stdout: output(entries, 'stdout').toString(),
    stderr: output(entries, 'stderr').toString(),
    result: exitResult(entries),
    standby: started.standby === true,
  };
}

/** The same task, once on a standby interpreter and once on a fresh one, under the same uids. */
async function bothWays(task: Record<string, unknown>): Promise<{ standby: Ran; fresh: Ran }> {
  const withStandby = startDaemon();
  await withStandby.daemon.waitForLog('executor started');
  const standby = await run(withStandby, task);
  await withStandby.daemon.stop();
  const withoutStandby = startDaemon({ EXECUTOR_STANDBY: 'none' });
  const fresh = await run(withoutStandby, task);
  // One daemon per set of sandbox uids: the next may only start once this one is gone.
  await withoutStandby.daemon.stop();
  return { standby, fresh };
}

// Everything a snippet can observe about how it was started. The scratch directory's name differs
// between any two runs, so it is replaced by a placeholder before comparing. The environment is
// compared as a set: the order of its entries is not kept (a fresh run's comes out of bash).
const PYTHON_PROBE = `
import json, os, sys
import helper
def limits():
    with open('/proc/self/limits') as f:
        return f.read()
seen = {
    'argv': sys.argv, 'orig_argv': sys.orig_argv, 'cwd': os.getcwd(), 'env': dict(sorted(os.environ.items())),
    'name': __name__, 'file': __file__, 'path': sys.path, 'modules': sorted(sys.modules),
    'main_keys': sorted(k for k in globals() if k.startswith('__')), 'loader': type(__loader__).__name__,
    'spec': __spec__, 'flags': str(sys.flags), 'uid': [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()],
    'limits': limits(), 'stdin': sys.stdin.read(), 'stdin_kind': os.fstat(0).st_mode, 'helper': helper.WHERE,
    'fds': sorted(os.listdir('/proc/self/fd')), 'home': sorted(os.listdir(os.environ['HOME'])),
    'nice': os.nice(0),
}
print(json.dumps(seen).replace(os.getcwd(), '<scratch>').replace(os.environ['SANDBOX_DISPLAY_TOKEN'], '<token>'))
raise RuntimeError('from the snippet')
`;

const NODE_PROBE = `
const fs = require('node:fs');
const helper = require('./helper.js');
const scratch = process.cwd();
const seen = {
  argv: process.argv, execArgv: process.execArgv, argv0: process.argv0, cwd: process.cwd(), env: Object.fromEntries(Object.entries(process.env).sort()),
  main: require.main === module, filename: __filename, cache: Object.keys(require.cache), paths: module.paths,
  uid: [process.getuid(), process.geteuid(), process.getgid(), process.getgroups()],
  limits: fs.readFileSync('/proc/self/limits', 'utf8'), stdin: fs.readFileSync(0, 'utf8'), helper: helper.where,
  fds: fs.readdirSync('/proc/self/fd').map((fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd).replace(/:\\[\\d+\\]/, ''); } catch { return 'gone'; } }).sort(),
  home: fs.readdirSync(process.env.HOME).sort(),
};
console.log(JSON.stringify(seen).replaceAll(scratch, '<scratch>'));
throw new Error('from the snippet');
`;

describe.skipIf(needsRoot.skip)(`standby interpreters ${needsRoot.reason}`, () => {
  it('python: a standby run is indistinguishable from a fresh one', async () => {
    const task = {
      runtime: 'python',
      code: PYTHON_PROBE,
      args: ['one', 'two words'],
      env: { GREETING: 'hi' },
      stdin: 'from stdin\n',
      files: [{ path: 'helper.py', content: 'import os\nWHERE = os.path.basename(__file__)\n' }],
    };
    const { standby, fresh } = await bothWays(task);
    expect(standby.standby).toBe(true);
    expect(fresh.standby).toBe(false);
    const seen = JSON.parse(standby.stdout) as Record<string, unknown>;
    expect(seen).toMatchObject({ argv: ['<scratch>/main.py', 'one', 'two words'], cwd: '<scratch>', name: '__main__', stdin: 'from stdin\n', helper: 'helper.py' });
    // The profile's display variables (docs/display.md), the backends folder on the path of both.
    expect(seen.env).toEqual({
      PATH: expect.any(String), HOME: '<scratch>', LANG: 'C.UTF-8', PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', GREETING: 'hi',
      MPLBACKEND: 'module://executor_display_backend', PYTHONPATH: expect.stringMatching(/\/python$/), SANDBOX_DISPLAY_TOKEN: '<token>',
    });
    expect(seen.path).toContain((seen.env as Record<string, string>).PYTHONPATH);
    expect(standby.stdout).toBe(fresh.stdout);
    // Same traceback: only the snippet's own frame, under its own file name.
    expect(standby.stderr.replace(/agent-run-[^/]+/g, 'X')).toBe(fresh.stderr.replace(/agent-run-[^/]+/g, 'X'));
    expect(standby.stderr).toMatch(/^Traceback \(most recent call last\):\n {2}File "[^"]+\/main\.py", line 17, in <module>\n/);
    expect(standby.result).toMatchObject({ status: 'error', exitCode: 1 });
    expect(fresh.result).toMatchObject({ status: 'error', exitCode: 1 });
  });

  it('node: a standby run is indistinguishable from a fresh one', async () => {
    const task = {
      runtime: 'node',
      code: NODE_PROBE,
      args: ['one', 'two words'],
      env: { GREETING: 'hi' },
      stdin: 'from stdin\n',
      files: [{ path: 'helper.js', content: 'exports.where = require("node:path").basename(__filename);\n' }],
    };
    const { standby, fresh } = await bothWays(task);
    expect(standby.standby).toBe(true);
    expect(fresh.standby).toBe(false);
    const seen = JSON.parse(standby.stdout) as Record<string, unknown>;
    expect(seen).toMatchObject({ argv: [expect.stringMatching(/node$/), '<scratch>/main.js', 'one', 'two words'], execArgv: [], main: true, stdin: 'from stdin\n', helper: 'helper.js' });
    expect(seen.cache).toEqual(['<scratch>/main.js', '<scratch>/helper.js']);
    expect(seen.env).toEqual({ PATH: expect.any(String), HOME: '<scratch>', LANG: 'C.UTF-8', GREETING: 'hi' });
    // One documented difference: the standby has created process.stdout and process.stderr while
    // it waited (a fresh Node does so on first use, ~10 ms), and with them libuv's reserve
    // descriptor on /dev/null. Everything else is the same.
    const { fds: standbyFds, ...standbyRest } = seen as { fds: string[] };
    const { fds: freshFds, ...freshRest } = JSON.parse(fresh.stdout) as { fds: string[] };
    expect(standbyRest).toEqual(freshRest);
    const extra = [...standbyFds];
    for (const fd of freshFds) extra.splice(extra.indexOf(fd), 1);
    expect(extra).toEqual(['/dev/null']);
    // Same stack trace, down to Node's own frames below the snippet's.
    expect(standby.stderr.replace(/agent-run-[^/]+/g, 'X')).toBe(fresh.stderr.replace(/agent-run-[^/]+/g, 'X'));
    expect(standby.stderr).toMatch(/Error: from the snippet\n {4}at Object\.<anonymous> \(\/[^)]+\/main\.js:14:7\)/);
  });

  it('carries nothing from one task to the next', async () => {
    const d = startDaemon();
    await d.daemon.waitForLog('executor started');
    // Leave everything a snippet could: files in HOME and /tmp, a changed environment, a module
    // attribute, a process in the background.
    const first = await run(d, {
      runtime: 'python',
      code: [
        'import os, subprocess, json',
        'open("left-in-home", "w").write("x")',
        'open("/tmp/left-in-tmp", "w").write("x")',
        'os.environ["LEFT"] = "1"',
        'json.LEFT = 1',
        'subprocess.Popen(["sleep", "30"], start_new_session=True)',
        'print(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])',
      ].join('\n'),
    });
    expect(first.standby).toBe(true);
    const second = await run(d, {
      runtime: 'python',
      code: [
        'import os, json',
        'mine = [p for p in os.listdir("/proc") if p.isdigit() and os.stat("/proc/" + p).st_uid == os.getuid() and p != str(os.getpid())]',
        'print(sorted(os.listdir(".")), os.path.exists("/tmp/left-in-tmp"), "LEFT" in os.environ, hasattr(json, "LEFT"), mine, open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])',
      ].join('\n'),
    });
    expect(second.standby).toBe(true);
    // Another interpreter: each run is PID 2 of its own PID namespace, so compare start times.
    const pid = second.stdout.trim().split(' ').at(-1);
    expect(pid).not.toBe(first.stdout.trim());
    expect(second.stdout).toBe(`['main.py', 'out'] False False False [] ${pid}\n`);
  });

  it('a snippet cannot signal, trace or plant code in the standby waiting beside it', async () => {
    const d = startDaemon();
    await d.daemon.waitForLog('executor started');
    // A bash snippet (its runtime's uid) goes after every process of the python standby's uid.
    const pythonUid = sandboxUid(10) + 2;
    const attack = await run(d, {
      runtime: 'bash',
      code: `
        found=0; killed=0; stopped=0; traced=0; planted=0
        for dir in /proc/[0-9]*; do
          [ "$(stat -c %u "$dir" 2>/dev/null)" = ${pythonUid} ] || continue
          pid=\${dir#/proc/}; found=$((found + 1))
          kill -STOP "$pid" 2>/dev/null && stopped=$((stopped + 1))
          kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1))
          ( printf x > "/proc/$pid/mem" ) 2>/dev/null && traced=$((traced + 1))
          cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) && ( echo 'print("poisoned")' > "$cwd/main.py" ) 2>/dev/null && planted=$((planted + 1))
        done
        for cwd in /var/lib/agent-executor/runs/*/; do ( echo 'print("poisoned")' > "$cwd/main.py" ) 2>/dev/null && planted=$((planted + 1)); done
        echo "found=$found stopped=$stopped killed=$killed traced=$traced planted=$planted"`,
    });
    // Natively each run has a PID namespace of its own: the standby is not even visible (found=0).
    // Where it is (no PID namespace), nothing the snippet tries takes effect.
    expect(attack.stdout).toMatch(/^found=\d+ stopped=0 killed=0 traced=0 planted=0\n$/);
    const next = await run(d, { runtime: 'python', code: 'print("clean", 6 * 7)' });
    expect(next.standby).toBe(true);
    expect(next.stdout).toBe('clean 42\n');
  });

  it('back to back: the next standby starts in the other slot while a run executes, at the lowest priority, out of its reach', async () => {
    const d = startDaemon();
    await d.daemon.waitForLog('executor started');
    // bash, node, python: python is runtime 2 of 3, so its slots are uids base + 2 and base + 2 + 3.
    const [slot0, slot1] = [sandboxUid(10) + 2, sandboxUid(10) + 5];
    const id = unique('t');
    // The run in slot 0 gives the next standby time to start beside it, then tries to plant code
    // in every scratch folder and process cwd it can name (natively it cannot even see the standby).
    await redis.xadd(d.stream, '*', 'task', JSON.stringify({
      id,
      runtime: 'python',
      code: [
        'import glob, os, time',
        'print("uid", os.getuid(), flush=True)',
        'time.sleep(1.5)',
        'planted = 0',
        'for cwd in glob.glob("/var/lib/agent-executor/runs/*/") + glob.glob("/proc/[0-9]*/cwd/"):',
        '    try:',
        '        open(cwd + "main.py", "w").write("print(\'poisoned\')")',
        '        planted += os.path.realpath(cwd) != os.path.realpath(os.getcwd())',
        '    except OSError:',
        '        pass',
        'print("planted", planted)',
      ].join('\n'),
    }));
    // While it runs, a standby of python waits in slot 1, at nice 19.
    const waiting = await waitFor('a standby in the other slot while the run executes', async () => {
      if ((await redis.xlen(`executor:results:${id}`)) < 2) return undefined;
      const alive = (await readProcTable(slot1)).filter((p) => p.alive);
      return alive.length > 0 ? alive : undefined;
    }, 15_000);
    expect(waiting.map((p) => os.getPriority(p.pid))).toContain(19);
    const entries = await readUntilExit(redis, id);
    expect(output(entries, 'stdout').toString()).toBe(`uid ${slot0}\nplanted 0\n`);
    // The task right after runs on it, with a run's priority, as a fresh interpreter would.
    const next = await run(d, { runtime: 'python', code: 'import os\nprint(os.getuid(), os.nice(0), open("main.py").read().startswith("import os"))' });
    expect(next.standby).toBe(true);
    expect(next.stdout).toBe(`${slot1} 10 True\n`);
    // And the one after that on a standby started in slot 0 while that ran.
    const third = await run(d, { runtime: 'python', code: 'import os\nprint(os.getuid(), os.nice(0))' });
    expect([third.standby, third.stdout]).toEqual([true, `${slot0} 10\n`]);
  });

  it('start-up CPU and time are not charged to the task', async () => {
    const d = startDaemon();
    await d.daemon.waitForLog('executor started');
    // process_time() counts the CPU of this process since it was created, start-up included.
    const r = await run(d, { runtime: 'python', code: 'import time\nprint(round(time.process_time() * 1000))\ntime.sleep(0.3)' });
    expect(r.standby).toBe(true);
    const startupMs = Number(r.stdout.trim());
    expect(startupMs).toBeGreaterThanOrEqual(10);
    expect(r.result).toMatchObject({ status: 'ok' });
    // What it used after the handoff (its few milliseconds, and its exit), not what starting it
    // cost. The kernel counts CPU in clock ticks (10 ms) and the start-up figure is rounded too:
    // up to two ticks.
    expect(r.result.cpuMs as number).toBeLessThanOrEqual(20);
  });

  it('runs a fresh interpreter for a task that sets a variable read at start-up, or other limits', async () => {
    const d = startDaemon({ EXECUTOR_CPU_MS: '5000' });
    await d.daemon.waitForLog('executor started');
    const seeded = await run(d, { runtime: 'python', env: { PYTHONHASHSEED: '0' }, code: 'import sys; print(sys.flags.hash_randomization)' });
    expect(seeded.standby).toBe(false);
    expect(seeded.stdout).toBe('0\n');
    const limited = await run(d, { runtime: 'python', limits: { cpuMs: 1000 }, code: 'import resource; print(resource.getrlimit(resource.RLIMIT_CPU))' });
    expect(limited.standby).toBe(false);
    expect(limited.stdout).toBe('(2, 3)\n');
    // The standby retired for those runs is back for the next ordinary task.
    const plain = await run(d, { runtime: 'python', code: 'print("ok")' });
    expect(plain.standby).toBe(true);
  });

  it('runs a task with LD_PRELOAD fresh, so the loader honours it exactly as without standby', async () => {
    // libcap-ng is there wherever the launcher is (setpriv links it), and no interpreter loads it.
    const probe = { env: { LD_PRELOAD: 'libcap-ng.so.0' } };
    const python = await bothWays({ ...probe, runtime: 'python', code: 'print("libcap-ng" in open("/proc/self/maps").read())' });
    expect([python.standby.standby, python.standby.stdout, python.fresh.stdout]).toEqual([false, 'True\n', 'True\n']);
    const node = await bothWays({ ...probe, runtime: 'node', code: 'console.log(require("fs").readFileSync("/proc/self/maps", "utf8").includes("libcap-ng"))' });
    expect([node.standby.standby, node.standby.stdout, node.fresh.stdout]).toEqual([false, 'true\n', 'true\n']);
    // The loader's other start-up variables, and glibc's malloc ones, go the same way.
    const d = startDaemon();
    await d.daemon.waitForLog('executor started');
    for (const env of [{ GLIBC_TUNABLES: 'glibc.malloc.arena_max=1' }, { MALLOC_ARENA_MAX: '1' }, { LD_LIBRARY_PATH: '/nowhere' }]) {
      expect(await run(d, { runtime: 'python', env, code: 'print(1)' })).toMatchObject({ standby: false, stdout: '1\n' });
    }
  });

  it('falls back to fresh interpreters when a standby cannot start, and stops trying after three', async () => {
    // A python profile whose bootstrap folder does not exist: the interpreter never reports ready
    // (it goes on to run a main.py that is not there yet, and exits).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broken-standby-'));
    const profile = JSON.parse(fs.readFileSync(path.join(DEFAULT_RUNTIMES_DIR, 'python.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, 'python.json'), JSON.stringify({ ...profile, standby: { env: { PYTHONPATH: '/nonexistent' }, startupEnv: [] } }));
    try {
      const d = startDaemon({ EXECUTOR_RUNTIMES_DIR: dir });
      await d.daemon.waitForLog('executor started');
      for (let i = 0; i < 4; i++) {
        const r = await run(d, { runtime: 'python', code: `print(${i})` });
        expect(r).toMatchObject({ standby: false, stdout: `${i}\n`, result: { status: 'ok' } });
      }
      await d.daemon.waitForLog('standby failed to start again; this runtime now always starts fresh interpreters');
      expect(d.daemon.logs.filter((l) => /standby failed to start/.test(String(l.msg)))).toHaveLength(3);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('retires a standby that is not ready within EXECUTOR_STANDBY_BOOT_MS, and runs the task fresh', async () => {
    // A python profile whose standby never gets ready: its sitecustomize (in place of the
    // bootstrap's) sleeps. It lives outside /tmp, which each run replaces with a private tmpfs.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slow-standby-'));
    fs.mkdirSync('/var/lib/agent-executor-test', { recursive: true });
    const site = fs.mkdtempSync('/var/lib/agent-executor-test/slow-standby-');
    fs.chmodSync(site, 0o755);
    fs.writeFileSync(path.join(site, 'sitecustomize.py'), 'import time\ntime.sleep(600)\n', { mode: 0o644 });
    const profile = JSON.parse(fs.readFileSync(path.join(DEFAULT_RUNTIMES_DIR, 'python.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, 'python.json'), JSON.stringify({ ...profile, standby: { env: { PYTHONPATH: site }, startupEnv: [] } }));
    try {
      const d = startDaemon({ EXECUTOR_RUNTIMES_DIR: dir, EXECUTOR_STANDBY_BOOT_MS: '1000' });
      await d.daemon.waitForLog('executor started');
      // The only runtime, so the first uid: the standby's interpreter is its only process.
      const uid = sandboxUid(10);
      const waiting = await waitFor('the standby interpreter', async () => {
        const found = (await readProcTable(uid)).filter((p) => p.alive);
        return found.length > 0 ? found : undefined;
      });
      const failed = await d.daemon.waitForLog('standby failed to start; the next task runs a fresh interpreter');
      expect(JSON.stringify(failed.err)).toContain('the standby python did not start (1000 ms)');
      // Retired then and there, not left for the next run's sweep: its interpreter is killed.
      await waitFor('the standby to be retired', async () => ((await readProcTable(uid)).some((p) => p.alive) ? undefined : true));
      for (const p of waiting) expect((await readProc(p.pid, uid))?.alive ?? false).toBe(false);
      const r = await run(d, { runtime: 'python', code: 'print("fresh")' });
      expect(r).toMatchObject({ standby: false, stdout: 'fresh\n', result: { status: 'ok' } });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(site, { recursive: true, force: true });
    }
  });

  it('can be turned off per runtime, and refuses a runtime it does not know', async () => {
    const d = startDaemon({ EXECUTOR_STANDBY: 'node' });
    await d.daemon.waitForLog('executor started');
    expect((await run(d, { runtime: 'python', code: 'print(1)' })).standby).toBe(false);
    expect((await run(d, { runtime: 'node', code: 'console.log(1)' })).standby).toBe(true);
    const bad = startDaemon({ EXECUTOR_STANDBY: 'ruby' });
    expect((await bad.daemon.exited).code).not.toBe(0);
    expect(bad.daemon.stderr.join('\n') + JSON.stringify(bad.daemon.logs)).toMatch(/EXECUTOR_STANDBY names runtime "ruby", which does not exist/);
  });
});
