// The session commands as real processes: `submit --session` keeps state across calls, `sessions`
// lists the open one with its holder, `close` ends it (a later cell exits 125, session_ended), and
// `repl` runs each entry of its input as a cell and closes the session at end of input.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { connect, needsRoot, redisUrl, unique, waitFor } from '../helpers/env.js';
import { useSharedDaemon } from '../helpers/shared-daemon.js';

describe.skipIf(needsRoot.skip)(`agent-executor session commands ${needsRoot.reason}`, () => {
  const { stream, daemon } = useSharedDaemon(30);
  const redis = connect();

  const cli = (command: string, args: string[], input = '') => runCli([command, '--redis-url', redisUrl(), '--stream', stream, ...args], input);

  it('keeps state across submit --session calls, lists the session, and closes it', async () => {
    const sid = unique('cli');
    expect(await cli('submit', ['--session', sid, '-r', 'python', '-e', 'n = 6'])).toMatchObject({ code: 0 });
    const second = await cli('submit', ['--session', sid, '-r', 'python', '-e', 'print("n is", n)\nn * 7']);
    expect(second).toMatchObject({ code: 0, stdout: 'n is 6\n42\n' });
    const listed = JSON.parse((await cli('sessions', ['--json'])).stdout) as { id: string; holder: string; cells: number }[];
    expect(listed.find((s) => s.id === sid)).toMatchObject({ holder: daemon().env.EXECUTOR_CONSUMER, cells: 2 });
    const table = (await cli('sessions', [])).stdout;
    expect(table).toMatch(/^SESSION\s+RUNTIME\s+HOLDER\s+AGE\s+IDLE\s+CELLS/);
    expect(table).toContain(sid);
    expect(await cli('close', [sid])).toMatchObject({ code: 0 });
    await waitFor('the session to end', async () => ((await redis.hget(`executor:session:{${sid}}`, 'state')) === 'ended' ? true : undefined));
    const late = await cli('submit', ['--session', sid, '-r', 'python', '-e', 'print(n)']);
    expect(late.code).toBe(125);
    expect(late.stderr).toMatch(/session_ended: session ".*" has ended \(closed\)/);
  });

  it('runs a repl over its input, one cell per entry, and closes the session at the end', async () => {
    const r = await cli('repl', ['--runtime', 'python'], 'x = 20\nfor i in range(2):\n    x += 1\n\nx\nprint("done")\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('22\n');
    expect(r.stdout).toContain('done\n');
    const sid = /session (\S+) \(python\)/.exec(r.stderr)?.[1];
    expect(sid).toBeDefined();
    await waitFor('the session to end', async () => ((await redis.hget(`executor:session:{${sid}}`, 'reason')) === 'closed' ? true : undefined));
  });
});
