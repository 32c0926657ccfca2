// `agent-executor submit` as a real process: output passed through, exit codes as the contract says.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { needsRoot, redisUrl, unique } from '../helpers/env.js';
import { useSharedDaemon } from '../helpers/shared-daemon.js';

describe.skipIf(needsRoot.skip)(`agent-executor submit ${needsRoot.reason}`, () => {
  const { stream } = useSharedDaemon(3);

  const submit = (args: string[], input?: string) => runCli(['submit', '--redis-url', redisUrl(), '--stream', stream, ...args], input);

  function tempFile(name: string, content: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'submit-'));
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  }

  it('writes the snippet\'s stdout and stderr to its own and exits with its exit code', async () => {
    const r = await submit(['--runtime', 'python', '-e', 'import sys\nprint("out")\nprint("err", file=sys.stderr)\nsys.exit(7)']);
    expect(r).toEqual({ code: 7, stdout: 'out\n', stderr: 'err\n' });
  });

  it('infers the runtime from a file extension and passes args after --', async () => {
    const file = tempFile('prog.js', 'console.log(process.argv.slice(2).join(","))');
    const r = await submit([file, '--', 'x', 'y']);
    expect(r).toMatchObject({ code: 0, stdout: 'x,y\n' });
  });

  it('reads code from standard input with - and the snippet\'s stdin from --stdin FILE', async () => {
    const input = tempFile('in.txt', 'fed through stdin');
    const r = await submit(['--runtime', 'bash', '--stdin', input, '-'], 'cat; echo');
    expect(r).toMatchObject({ code: 0, stdout: 'fed through stdin\n' });
  });

  it('exits 124 when a budget ended the run, and says which', async () => {
    const r = await submit(['--runtime', 'bash', '--wall-ms', '500', '-e', 'sleep 30']);
    expect(r.code).toBe(124);
    expect(r.stderr).toMatch(/timeout: wall-clock budget of 500 ms exceeded/);
    const cpu = await submit(['--runtime', 'node', '--cpu-ms', '300', '-e', 'for(;;){}']);
    expect(cpu.code).toBe(124);
    expect(cpu.stderr).toMatch(/cpu_limit/);
  });

  it('exits 125 when the task is rejected', async () => {
    const r = await submit(['--runtime', 'cobol', '-e', 'x']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/rejected: .*unknown runtime "cobol"/);
  });

  it('prints the final result as one JSON line with --json', async () => {
    const r = await submit(['--json', '--runtime', 'bash', '--id', 'cli-json-1', '-e', 'echo hidden; exit 1']);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ id: 'cli-json-1', status: 'error', exitCode: 1, stdoutBytes: 7 });
  });

  it('refuses an --id that has already run, instead of showing that earlier run as this one', async () => {
    const id = unique('cli-reused');
    expect(await submit(['--runtime', 'bash', '--id', id, '-e', 'echo first'])).toMatchObject({ code: 0, stdout: 'first\n' });
    const again = await submit(['--runtime', 'bash', '--id', id, '-e', 'echo second']);
    expect(again).toMatchObject({ code: 125, stdout: '' });
    expect(again.stderr).toMatch(new RegExp(`task id "${id}" has already run`));
  });

  it('exits 2 with a clear message on a bad command line', async () => {
    expect(await submit([])).toMatchObject({ code: 2, stderr: expect.stringMatching(/no code given/) });
    expect(await submit(['-e', 'x'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--runtime is required/) });
    const rb = tempFile('x.rb', 'puts 1');
    expect(await submit([rb])).toMatchObject({ code: 2, stderr: expect.stringMatching(/cannot tell the runtime of .*x\.rb/) });
    expect(await submit(['--wall-ms', 'soon', '--runtime', 'bash', '-e', 'true'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--wall-ms must be a positive whole number/) });
  });

  it('with Redis unreachable, exits 125 after a bounded retry with one line naming host:port, never the password', async () => {
    const r = await submit(['--redis-url', 'redis://:hunter2@127.0.0.1:1', '-r', 'bash', '-e', 'echo hi']);
    expect(r.code).toBe(125);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^\[agent-executor\] cannot reach Redis at 127\.0\.0\.1:1: ECONNREFUSED$/)]);
    expect(r.stderr).not.toContain('hunter2');
  });

  it('on --timeout-ms expiry exits 125, says the task was not cancelled, and hints that nothing reads the stream', async () => {
    const r = await submit(['--stream', `nobody-reads-${process.pid}`, '--timeout-ms', '6000', '--id', `waits-${process.pid}`, '-r', 'bash', '-e', 'echo hi']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/waits-\d+ is still queued after 5 s: is an executor reading nobody-reads-\d+\?/);
    expect(r.stderr).toMatch(/no result for task waits-\d+ within 6000 ms; the task was not cancelled \(agent-executor cancel waits-\d+\)/);
  });
});
