// The session check of the hostile selftest (`session-state`): a python session plants state in
// every way it can and shows it kept across cells; once it has ended, nothing of it may be alive
// (looked at from root), and a new session's probe — the same probe as after every hostile run —
// must find a sandbox indistinguishable from a fresh one, and no trace of the first session's
// variables or environment. Run through the daemon's own session code, without Redis.
import { notRunResult, type EffectiveLimits, type ExitResult } from '../protocol/result.js';
import { readProcTable } from '../sandbox/proc-table.js';
import type { RunContext } from '../sandbox/types.js';
import type { RuntimeRegistry } from '../runtimes/load.js';
import { runCell } from '../session/cell.js';
import { SessionInterpreter } from '../session/interpreter.js';
import { Session } from '../session/session.js';
import { probeCode, problemsIn, type ProbeFindings } from './probe.js';
import { snippet } from './snippets.js';

export const SESSION_CHECK = 'session-state';

export interface SessionCheckOptions {
  runtimes: RuntimeRegistry;
  limits: EffectiveLimits;
  kernelsDir: string;
}

/** Why the session check failed; undefined when it passed. */
export async function sessionCheck(ctx: RunContext, o: SessionCheckOptions): Promise<string | undefined> {
  const planting = await session(ctx, o, [snippet('session-state.py'), 'print("state", planted, bg.poll() is None, open("planted-home.txt").read())']);
  if (typeof planting === 'string') return planting;
  if (planting.outputs[1]?.trim() !== 'state here True x') return `the session did not keep its state across cells: ${JSON.stringify(planting.outputs[1])} [${describe(planting.results[1])}]`;
  if (!planting.clean) return `the sweep after the session was not clean: ${planting.problems}`;
  const alive = (await readProcTable(ctx.identity.uid)).filter((p) => p.alive);
  if (alive.length > 0) return `processes of the sandbox user alive after the session ended: ${alive.map((p) => p.pid).join(', ')}`;

  const probing = await session(ctx, o, [probeCode([]), 'import os\nprint("planted" in globals(), "PLANTED" in os.environ)']);
  if (typeof probing === 'string') return `probe session: ${probing}`;
  let findings: ProbeFindings;
  try {
    findings = JSON.parse(probing.outputs[0] ?? '') as ProbeFindings;
  } catch {
    return `probe session printed no findings: ${JSON.stringify(probing.outputs[0]?.slice(0, 200))} [${describe(probing.results[0])}]`;
  }
  const problems = problemsIn(findings);
  if (problems.length > 0) return `the next session was not clean: ${problems.join('; ')}`;
  if (probing.outputs[1]?.trim() !== 'False False') return `the next session saw the first one's state: ${JSON.stringify(probing.outputs[1])}`;
  return undefined;
}

interface SessionRun {
  outputs: string[];
  results: ExitResult[];
  clean: boolean;
  problems: string;
}

async function session(ctx: RunContext, o: SessionCheckOptions, cells: string[]): Promise<SessionRun | string> {
  const profile = o.runtimes.get('python');
  if (!profile) return 'runtime python is not installed';
  const task = { id: 'selftest-session', runtime: 'python', code: '' };
  const interpreter = await SessionInterpreter.start(ctx, profile, task, o.limits, o.kernelsDir, 30_000);
  if (typeof interpreter === 'string') return interpreter;
  const s = new Session('selftest', 'python', interpreter, ctx, { limits: o.limits, idleMs: 60_000, lifetimeMs: 120_000, cpuMs: 60_000 });
  const outputs: string[] = [];
  const results: ExitResult[] = [];
  try {
    for (const [i, code] of cells.entries()) {
      const chunks: Buffer[] = [];
      const report = await runCell(s, i + 1, { ...task, code }, o.limits, {
        output: async (kind, data) => void (kind === 'stdout' && chunks.push(data)),
        display: async () => undefined,
        artifact: async () => undefined,
        cancel: new AbortController().signal,
        abort: new AbortController().signal,
      }).catch((err: Error) => ({ result: notRunResult('internal_error', err.message) }));
      outputs.push(Buffer.concat(chunks).toString());
      results.push(report.result);
    }
  } finally {
    s.end('closed');
  }
  const swept = await s.close(ctx.killGraceMs);
  return { outputs, results, clean: swept.report.clean, problems: (swept.report.problems ?? []).join('; ') };
}

function describe(r: ExitResult | undefined): string {
  return r ? `${r.status}${r.error ? `: ${r.error}` : ''}` : 'no result';
}
