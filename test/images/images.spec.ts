// The images, built from Dockerfile.python, Dockerfile.node and the team example exactly as
// committed (on locally built stand-ins of the official base images: no registry is reachable
// here), then run the way a pod runs them — under gVisor, read-only root with writable tmpfs
// mounts, nine capabilities, the Redis URL in a root-only file — serving python and node snippets
// from a private Redis on 127.0.0.1. Also: the team image's own runtime and packages, the hostile
// selftest inside an extended image, a drain on `docker stop`, and the images without gVisor
// (runc) under their seccomp profiles.
import fs from 'node:fs';
import { freePort } from '../../dev/redis-server.js';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../../dev/redis-server.js';
import { SELFTEST_CHECKS } from '../../src/selftest/runner.js';
import { SNIPPETS } from './fixtures/snippets.js';
import { dockerAvailable, startDocker, tail, type PrivateDocker } from './helpers/docker.js';
import { REPO } from './helpers/repo.js';
import { outcome, submit } from './helpers/results.js';
import { buildStandins } from './helpers/standins.js';

const IMAGES = { python: 'agent-executor:python', node: 'agent-executor:node', team: 'agent-executor-example/team-python' } as const;
// What a pod grants (runtime-profiles/agents/*.yaml): nine capabilities, read-only root, writable
// tmpfs where the daemon and snippets write.
const CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'KILL', 'SETUID', 'SETGID', 'SETPCAP', 'SYS_ADMIN', 'NET_ADMIN', 'SYS_PTRACE'];
const POD_LIKE = [
  '--network=host',
  '--read-only',
  ...['/tmp', '/var/tmp', '/run', '/var/lib/agent-executor'].flatMap((dir) => ['--tmpfs', dir]),
  '--cap-drop',
  'ALL',
  ...CAPABILITIES.flatMap((c) => ['--cap-add', c]),
];
const URL_FILE = '/etc/agent-executor/redis/url';

describe.skipIf(dockerAvailable.skip)(`images built and run under gVisor ${dockerAvailable.reason}`, () => {
  let d: PrivateDocker;
  let redis: PrivateRedis;
  let client: Redis;
  const built = new Set<string>();
  const timings: Record<string, number> = {};
  let names = 0;

  beforeAll(async () => {
    d = await startDocker();
    redis = await startPrivateRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  }, 120_000);

  afterAll(async () => {
    await client?.quit();
    await redis?.stop();
    await d?.stop();
    console.log(`image test timings (s): ${Object.entries(timings).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)}`).join(', ')}`);
  }, 300_000);

  const need = (...images: string[]) => {
    for (const image of images) expect(built.has(image), `${image} was built by an earlier test`).toBe(true);
  };

  const build = async (key: string, image: string, args: string[]) => {
    const r = await d.docker(['build', '--network=host', '-t', image, ...args], { timeoutMs: 900_000, cwd: REPO });
    timings[key] = r.ms;
    built.add(image);
    return r;
  };

  // An executor container as a pod runs it; its Redis URL in a root-only file.
  const startExecutor = async (image: string, stream: string, env: Record<string, string> = {}) => {
    const urlFile = path.join(d.dir, `redis-url-${stream}`);
    fs.writeFileSync(urlFile, redis.url, { mode: 0o400 });
    const name = `executor-${++names}`;
    await d.docker(
      [
        'run', '-d', '--name', name, '--runtime=runsc', ...POD_LIKE,
        '-v', `${urlFile}:${URL_FILE}:ro`,
        '-e', `REDIS_URL_FILE=${URL_FILE}`, '-e', `EXECUTOR_STREAM=${stream}`, '-e', 'EXECUTOR_REQUIRE_GVISOR=1',
        ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
        image,
      ],
      { timeoutMs: 60_000 },
    );
    return name;
  };

  // SIGTERM drains: the run in hand finishes, then the daemon exits 0.
  const stopExecutor = async (name: string) => {
    await d.docker(['stop', '-t', '60', name], { timeoutMs: 90_000 });
    const { stdout: code } = await d.docker(['inspect', '-f', '{{.State.ExitCode}}', name], { timeoutMs: 30_000 });
    const { stdout: logs, stderr } = await d.docker(['logs', name], { timeoutMs: 30_000 });
    await d.docker(['rm', name], { timeoutMs: 30_000 });
    return { exitCode: Number(code.trim()), logs: logs + stderr };
  };

  const SESSION_CELLS: Record<string, [string, string]> = {
    python: ['v = 7', 'print("kept", v)'],
    node: ['const v = 7', 'console.log("kept", v)'],
    bash: ['v=7', 'echo kept "$v"'],
  };

  const runSnippets = async (image: string, runtimes: string[]) => {
    const stream = `tasks-${image.replace(/\W/g, '-')}`;
    const snippets = SNIPPETS.filter((s) => runtimes.includes(s.runtime));
    const ids = snippets.map((s) => `${stream}-${s.name}`);
    const port = await freePort();
    const name = await startExecutor(image, stream, { EXECUTOR_HTTP_PORT: String(port) });
    try {
      for (const [i, s] of snippets.entries()) await submit(client, stream, { id: ids[i], runtime: s.runtime, code: s.code, ...(s.stdin ? { stdin: s.stdin } : {}) });
      // The probes a pod uses, served from inside gVisor (the container shares the host's network).
      expect(await httpStatus(port, '/healthz', 60_000)).toBe(200);
      expect(await httpStatus(port, '/readyz', 60_000)).toBe(200);
      for (const [i, s] of snippets.entries()) {
        const run = await outcome(client, ids[i]!, 120_000);
        expect(run.started.sandbox, s.name).toBe('gvisor');
        expect({ name: s.name, stdout: run.stdout, stderr: run.stderr, status: run.result.status }).toEqual({ name: s.name, stdout: s.stdout, stderr: '', status: 'ok' });
        expect(run.result.sweep, s.name).toEqual({ clean: true });
      }
      // A session of each runtime, with the image's own interpreters: state kept from one cell to the next.
      for (const runtime of runtimes) {
        const sid = `${stream}-session-${runtime}`;
        await submit(client, stream, { id: `${sid}-1`, runtime, session: sid, code: SESSION_CELLS[runtime]![0] });
        expect((await outcome(client, `${sid}-1`, 120_000)).result.status, runtime).toBe('ok');
        await submit(client, stream, { id: `${sid}-2`, runtime, session: sid, code: SESSION_CELLS[runtime]![1] });
        const second = await outcome(client, `${sid}-2`, 120_000);
        expect({ runtime, stdout: second.stdout, session: second.result.session }).toEqual({ runtime, stdout: 'kept 7\n', session: { id: sid, cell: 2 } });
        await client.xadd(`${stream}:control`, '*', 'close', sid);
      }
      const health = await d.docker(['exec', name, 'agent-executor-healthcheck'], { timeoutMs: 30_000, allowFailure: true });
      expect(health.code, health.stdout).toBe(0);
    } finally {
      const stopped = await stopExecutor(name);
      expect(stopped.exitCode, tail(stopped.logs)).toBe(0);
    }
  };

  it('builds stand-ins of the official base images from debootstrap', async () => {
    const t = await buildStandins(d);
    Object.assign(timings, { 'debootstrap': t.debootstrapMs, 'python stand-in': t.pythonMs, 'node stand-in': t.nodeMs });
  }, 1_200_000);

  it('builds Dockerfile.python as committed', async () => {
    await build('Dockerfile.python', IMAGES.python, ['-f', 'Dockerfile.python', '.']);
  }, 900_000);

  it('builds Dockerfile.node as committed', async () => {
    await build('Dockerfile.node', IMAGES.node, ['-f', 'Dockerfile.node', '.']);
  }, 900_000);

  it('builds the team image example on the Python image, with its pip packages', async () => {
    need(IMAGES.python);
    const r = await build('team image', IMAGES.team, ['images/examples/team-python']);
    // BuildKit reports RUN output on stderr. (numpy and pandas come from the stand-in base here,
    // where PyPI is not reachable: pip resolves them as already installed.)
    expect(r.stdout + r.stderr).toMatch(/Requirement already satisfied: numpy|Successfully installed .*numpy/);
  }, 900_000);

  it('python image: python, node and bash snippets end to end under gVisor, then a clean drain', async () => {
    need(IMAGES.python);
    await runSnippets(IMAGES.python, ['python', 'node', 'bash']);
  }, 300_000);

  it('node image: node, python and bash snippets end to end under gVisor, then a clean drain', async () => {
    need(IMAGES.node);
    await runSnippets(IMAGES.node, ['node', 'python', 'bash']);
  }, 300_000);

  it('drains on docker stop: the run in hand finishes and is reported before the exit', async () => {
    need(IMAGES.python);
    const stream = 'tasks-drain';
    const name = await startExecutor(IMAGES.python, stream);
    await submit(client, stream, { id: 'drain-1', runtime: 'python', code: 'import time\nprint("begun")\ntime.sleep(2)\nprint("done")' });
    // Stop as soon as the run has begun (its first output is there), not after a fixed sleep.
    const deadline = Date.now() + 120_000;
    while (!(await client.xrange('executor:results:drain-1', '-', '+')).some(([, f]) => f.includes('stdout'))) {
      if (Date.now() > deadline) throw new Error('the run did not begin within 120 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const stopped = await stopExecutor(name);
    const run = await outcome(client, 'drain-1', 10_000);
    expect(run.stdout).toBe('begun\ndone\n');
    expect(run.result.status).toBe('ok');
    expect(stopped.exitCode, tail(stopped.logs)).toBe(0);
  }, 300_000);

  it('team image: its own runtime runs with numpy and pandas, beside the base runtimes; plt.show() displays in both', async () => {
    need(IMAGES.team);
    const stream = 'tasks-team';
    const name = await startExecutor(IMAGES.team, stream);
    try {
      await submit(client, stream, {
        id: 'team-1',
        runtime: 'python-data',
        args: ['arg'],
        code: 'import sys\ndf = pd.DataFrame({"a": [1, 2, 3]})\nprint(int(df.a.sum()), np.arange(4).tolist(), sys.argv[1:])',
      });
      await submit(client, stream, { id: 'team-2', runtime: 'python', code: 'import numpy, pandas\nprint(pandas.Series([1.5, 2.5]).sum())' });
      // matplotlib is the team's package (requirements.txt); the display backend is the base image's.
      const plot = 'import matplotlib.pyplot as plt\nprint("before", flush=True)\nplt.plot([1, 2])\nplt.show()\nprint("after")';
      for (const runtime of ['python-data', 'python']) await submit(client, stream, { id: `team-plot-${runtime}`, runtime, code: plot });
      const team = await outcome(client, 'team-1', 120_000);
      expect(team.started.sandbox).toBe('gvisor');
      expect(team.stderr).toBe('');
      expect(team.stdout).toBe("6 [0, 1, 2, 3] ['arg']\n");
      const base = await outcome(client, 'team-2', 120_000);
      expect(base.stdout).toBe('4.0\n');
      for (const runtime of ['python-data', 'python']) {
        const plotted = await outcome(client, `team-plot-${runtime}`, 120_000);
        expect(plotted.result.status, plotted.stderr).toBe('ok');
        // Output and displays in stream order, consecutive stdout entries joined (print writes the
        // text and its newline separately, unbuffered).
        const order: string[] = [];
        let last = '';
        for (const e of plotted.events.filter((x) => ['stdout', 'display'].includes(x.type))) {
          if (e.type === 'stdout' && last === 'stdout') order[order.length - 1] += e.fields.data ?? '';
          else order.push((e.type === 'display' ? e.fields.mime : e.fields.data) ?? '');
          last = e.type;
        }
        expect(order).toEqual(['before\n', 'image/png', 'text/plain', 'after\n']);
      }
      // Without EXECUTOR_HTTP_PORT, the image's health check looks at the daemon process instead.
      const health = await d.docker(['exec', name, 'agent-executor-healthcheck'], { timeoutMs: 30_000, allowFailure: true });
      expect(health.code, health.stdout).toBe(0);
    } finally {
      const stopped = await stopExecutor(name);
      expect(stopped.logs).toContain('"runtimes":["bash","node","python","python-data"]');
      expect(stopped.exitCode).toBe(0);
    }
  }, 300_000);

  // One retry: see seccomp.spec.ts (timing-sensitive checks on a loaded 2-core machine).
  it('team image: still sealed — the hostile selftest passes inside it under gVisor', { retry: 1, timeout: 300_000 }, async () => {
    need(IMAGES.team);
    const r = await d.docker(['run', '--rm', '--runtime=runsc', ...POD_LIKE, IMAGES.team, 'agent-executor', 'selftest'], { timeoutMs: 240_000, allowFailure: true });
    expect(r.stdout).toMatch(/^sandbox: gvisor;/m);
    expect(r.stdout, tail(r.stdout + r.stderr)).toContain(`${SELFTEST_CHECKS.length} passed, 0 failed`);
    expect(r.code).toBe(0);
  });

  describe.each([
    ['python', IMAGES.python],
    ['node', IMAGES.node],
  ])('%s image without gVisor (runc), under its seccomp profile as committed', (profile, image) => {
    const seccomp = ['--security-opt', `seccomp=${path.join(REPO, 'runtime-profiles/seccomp', `${profile}.json`)}`];

    it('denies ptrace, mount, bpf, keyctl and user namespaces to root; clone3 is ENOSYS', async () => {
      need(image);
      const fixtures = path.join(REPO, 'test/images/fixtures');
      const r = await d.docker(['run', '--rm', ...POD_LIKE, ...seccomp, '-v', `${fixtures}:/fixtures:ro`, '--entrypoint', 'python3', image, '/fixtures/syscall-probe.py'], { timeoutMs: 60_000 });
      expect(JSON.parse(r.stdout)).toEqual({ ptrace: 1, mount: 1, bpf: 1, keyctl: 1, 'unshare-user': 1, 'unshare-net': 0, clone3: 38 });
    }, 120_000);

    it('passes the hostile selftest', async () => {
      need(image);
      // Docker mounts /dev/mqueue writable for everyone; the `auto` sweep does not find it, so
      // it is named here, as images/README.md tells clusters without gVisor to do.
      const sweep = ['-e', 'EXECUTOR_SWEEP_DIRS=/tmp:/var/tmp:/dev/shm:/dev/mqueue:/run:/var/lib/agent-executor'];
      const r = await d.docker(['run', '--rm', ...POD_LIKE, ...seccomp, ...sweep, image, 'agent-executor', 'selftest'], { timeoutMs: 240_000, allowFailure: true });
      expect(r.stdout).toMatch(/^sandbox: none;/m);
      expect(r.stdout, tail(r.stdout + r.stderr)).toContain(`${SELFTEST_CHECKS.length} passed, 0 failed`);
    }, 300_000);
  });

  describe.each([
    ['python', IMAGES.python],
    ['node', IMAGES.node],
  ])('%s image contents', (kind, image) => {
    it('starts the daemon under tini, health-checks it, labels itself, and sets the sandbox user', async () => {
      need(image);
      const { stdout } = await d.docker(['inspect', image], { timeoutMs: 30_000 });
      const config = (JSON.parse(stdout) as { Config: Record<string, any> }[])[0]!.Config; // eslint-disable-line @typescript-eslint/no-explicit-any
      expect(config.Entrypoint).toEqual(['/usr/bin/tini', '--', '/usr/local/bin/agent-executor-entrypoint']);
      expect(config.Cmd).toEqual(['serve']);
      expect(config.Healthcheck.Test).toEqual(['CMD', '/usr/local/bin/agent-executor-healthcheck']);
      expect(config.Labels['org.opencontainers.image.title']).toMatch(/^agent-executor/);
      expect(config.Env).toEqual(expect.arrayContaining(['EXECUTOR_SANDBOX_USER=sandbox', 'EXECUTOR_RUNTIMES_DIR=/etc/agent-executor/runtimes:/etc/agent-executor/runtimes.d']));
      expect(config.Volumes).toHaveProperty(['/var/lib/agent-executor']);
    }, 60_000);

    it('carries the daemon\'s tools and production dependencies only; the sandbox user owns nothing', async () => {
      need(image);
      const script = [
        'set -eu',
        'for tool in tini bash unshare setpriv mount ps kill pgrep ip python3 node find; do command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }; done',
        'echo "sandbox $(id -u sandbox):$(id -g sandbox)"',
        'echo "users of 10001: $(getent passwd | awk -F: \'$3 == 10001\' | cut -d: -f1)"',
        'echo "owned by sandbox: $(find / -xdev -user sandbox 2>/dev/null | wc -l)"',
        'echo "dev dependencies: $(ls /opt/agent-executor/node_modules | grep -cE \'^(typescript|vitest|kubernetes-models|yaml)$\' || true)"',
        // npm prune leaves the empty scope folder: what matters is the package and what it pulls in.
        'echo "mcp sdk: $(test -e /opt/agent-executor/node_modules/@modelcontextprotocol/sdk && echo yes || echo no)"',
        'echo "mcp sdk dependencies: $(ls /opt/agent-executor/node_modules | grep -cE \'^(express|hono|cors|eventsource|jose)$\' || true)"',
        'echo "mcp command: $(agent-executor mcp 2>&1 </dev/null | head -c 200)"',
        'echo "apt lists: $(find /var/lib/apt/lists -mindepth 1 -maxdepth 1 ! -name partial ! -name lock | wc -l)"',
        'echo "npm in python image: $(test -e /usr/local/bin/npm && echo yes || echo no)"',
        'agent-executor help >/dev/null && echo "cli ok"',
      ].join('\n');
      const r = await d.docker(['run', '--rm', '--network=none', '--entrypoint', '/bin/bash', image, '-c', script], { timeoutMs: 60_000 });
      expect(r.stdout).toContain('sandbox 10001:10001\n');
      expect(r.stdout).toContain('users of 10001: sandbox\n');
      expect(r.stdout).toContain('owned by sandbox: 0\n');
      expect(r.stdout).toContain('dev dependencies: 0\n');
      expect(r.stdout).toContain('apt lists: 0\n');
      // The MCP server runs beside the agent: the image leaves its SDK out and says so when asked.
      expect(r.stdout).toContain('mcp sdk: no\n');
      expect(r.stdout).toContain('mcp sdk dependencies: 0\n');
      expect(r.stdout).toMatch(/mcp command: agent-executor: agent-executor mcp needs @modelcontextprotocol\/sdk/);
      if (kind === 'python') expect(r.stdout).toContain('npm in python image: no\n');
      expect(r.stdout).toContain('cli ok\n');
    }, 60_000);
  });
});

/** The status of GET http://127.0.0.1:<port><path> once it is 200, or the last one seen at the deadline. */
async function httpStatus(port: number, urlPath: string, timeoutMs: number): Promise<number | string> {
  const deadline = Date.now() + timeoutMs;
  let last: number | string = 'no answer';
  while (Date.now() < deadline) {
    try {
      last = (await fetch(`http://127.0.0.1:${port}${urlPath}`, { signal: AbortSignal.timeout(2000) })).status;
      if (last === 200) return last;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}
