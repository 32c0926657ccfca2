// Runs the hostile checks through the daemon's own run-and-sweep code, with no Redis: each hostile
// run, then a probe run that must find a sandbox indistinguishable from a fresh one.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../log.js';
import { SECURITY_EVENTS, securityEvent } from '../security-events.js';
import type { EffectiveLimits } from '../protocol/result.js';
import { effectiveLimits } from '../run/limits.js';
import { executeRun } from '../run/run.js';
import { readProcTable } from '../sandbox/proc-table.js';
import type { RuntimeRegistry } from '../runtimes/load.js';
import type { PreparedSandbox } from '../sandbox/prepare.js';
import type { RunContext } from '../sandbox/types.js';
import { HOSTILE_CHECKS, type CheckContext, type HostileCheck } from './checks.js';
import { probeCode, problemsIn, type ProbeFindings } from './probe.js';
import { SESSION_CHECK, sessionCheck } from './session-check.js';
import { SESSION_KERNELS_DIR } from '../runtimes/load.js';
import { installBootstraps } from '../runtimes/bootstraps.js';

export interface CheckOutcome {
  name: string;
  ok: boolean;
  detail: string;
}

export interface SelftestOptions {
  sandbox: PreparedSandbox;
  runtimes: RuntimeRegistry;
  maxima: EffectiveLimits;
  networkAllowed: boolean;
  logger: Logger;
  only?: readonly string[];
  onOutcome?: (outcome: CheckOutcome) => void;
}

/** The selftest's own default budgets: tight, so the whole suite takes seconds, not minutes. */
const SELFTEST_LIMITS: Partial<EffectiveLimits> = { wallMs: 10_000, cpuMs: 5_000, processes: 64, fileSizeBytes: 16 * 1024 ** 2 };

export async function runSelftest(o: SelftestOptions): Promise<CheckOutcome[]> {
  const checks = o.only?.length ? HOSTILE_CHECKS.filter((c) => o.only!.includes(c.name)) : HOSTILE_CHECKS;
  const withSession = !o.only?.length || o.only.includes(SESSION_CHECK);
  const listener = await listen();
  const secretPath = path.join(o.sandbox.workDir, `.selftest-secret-${process.pid}`);
  fs.writeFileSync(secretPath, 'token: do-not-read\n', { mode: 0o600 });
  const ctx: CheckContext = { listenerPort: listener.port, secretPath, networkAllowed: o.networkAllowed };
  const outcomes: CheckOutcome[] = [];
  try {
    for (const check of checks) {
      const outcome = await runCheck(check, ctx, listener, o);
      if (!outcome.ok) securityEvent(o.logger, SECURITY_EVENTS.selftestFailed, { check: check.name, detail: outcome.detail }, 'a hostile selftest check failed');
      outcomes.push(outcome);
      o.onOutcome?.(outcome);
    }
    if (withSession) {
      const outcome = await runSessionCheck(o);
      if (!outcome.ok) securityEvent(o.logger, SECURITY_EVENTS.selftestFailed, { check: outcome.name, detail: outcome.detail }, 'a hostile selftest check failed');
      outcomes.push(outcome);
      o.onOutcome?.(outcome);
    }
  } finally {
    fs.rmSync(secretPath, { force: true });
    listener.close();
  }
  return outcomes;
}

export async function runCheck(
  check: HostileCheck,
  ctx: CheckContext,
  listener: { connections: number },
  o: Pick<SelftestOptions, 'sandbox' | 'runtimes' | 'maxima' | 'logger'>,
): Promise<CheckOutcome> {
  const runCtx = o.sandbox.runContext(o.logger.child({ check: check.name }));
  const limits = effectiveLimits(o.maxima, { ...SELFTEST_LIMITS, ...check.limits });
  const before = listener.connections;
  const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const profile = o.runtimes.get(check.runtime);
  if (!profile) return { name: check.name, ok: false, detail: `runtime ${check.runtime} is not installed` };
  const fdsBefore = openDescriptors();
  let report: Awaited<ReturnType<typeof executeRun>>;
  try {
    report = await executeRun(
      { task: { id: `selftest-${check.name}`, runtime: check.runtime, code: check.code(ctx) }, profile, limits },
      runCtx,
      { output: async (kind, data) => void out[kind].push(data) },
    );
  } catch (err) {
    // What the daemon would take for a dirty sandbox and stop on: a failure, never a crash here.
    return { name: check.name, ok: false, detail: `the run failed inside the executor: ${(err as Error).message.slice(0, 300)}` };
  }
  const { result } = report;
  const seen = {
    result,
    stdout: Buffer.concat(out.stdout),
    stderr: Buffer.concat(out.stderr),
    listenerReached: listener.connections > before,
  };
  const summary = `${result.status} in ${result.wallMs} ms wall, ${result.cpuMs} ms CPU`;
  // From outside the sandbox, as root: nothing of the run may be left, whatever /proc showed it
  // as (a zombie leader with a live thread is alive), and the daemon holds no more descriptors.
  const leftover = (await readProcTable(runCtx.identity.uid)).filter((p) => p.alive);
  if (leftover.length > 0) return { name: check.name, ok: false, detail: `processes of the sandbox user alive after the run: ${leftover.map((p) => p.pid).join(', ')} [${summary}]` };
  const grown = openDescriptors() - fdsBefore;
  if (grown > 2) return { name: check.name, ok: false, detail: `the daemon holds ${grown} more file descriptors after the run [${summary}]` };
  const verdict = check.verdict(seen, ctx);
  const failed = typeof verdict === 'string' ? verdict : result.sweep?.clean === false ? `sweep: ${result.sweep.problems?.join('; ')}` : undefined;
  if (failed) return { name: check.name, ok: false, detail: `${failed} [${summary}]` };
  const note = typeof verdict === 'object' ? `; ${verdict.note}` : '';

  const writable = writableDirs(seen.stdout);
  const probeProblems = await probe(o, runCtx, writable);
  if (probeProblems.length) return { name: check.name, ok: false, detail: `next run not clean: ${probeProblems.join('; ')} [${summary}]` };
  const listed = check.name === 'writable-places' ? `; writable: ${writable.join(', ') || 'none besides the scratch directory'}` : '';
  return { name: check.name, ok: true, detail: `${summary}; next run clean${listed}${note}` };
}

/** Every check's name, in the order they run (`selftest --list`). */
export const SELFTEST_CHECKS: readonly string[] = [...HOSTILE_CHECKS.map((c) => c.name), SESSION_CHECK];

async function runSessionCheck(o: SelftestOptions): Promise<CheckOutcome> {
  const started = Date.now();
  const runCtx = o.sandbox.runContext(o.logger.child({ check: SESSION_CHECK }), 'python');
  const failed = await sessionCheck(runCtx, {
    runtimes: o.runtimes,
    limits: effectiveLimits(o.maxima, SELFTEST_LIMITS),
    kernelsDir: installBootstraps(SESSION_KERNELS_DIR, o.sandbox.workDir),
  }).catch((err: Error) => `the session failed inside the executor: ${err.message.slice(0, 300)}`);
  const took = `${Date.now() - started} ms`;
  return failed ? { name: SESSION_CHECK, ok: false, detail: `${failed} [${took}]` } : { name: SESSION_CHECK, ok: true, detail: `state kept across cells, nothing of it left after the session; next session clean [${took}]` };
}

async function probe(
  o: Pick<SelftestOptions, 'runtimes' | 'maxima'>,
  runCtx: RunContext,
  markerDirs: readonly string[],
): Promise<string[]> {
  const chunks: Buffer[] = [];
  const errors: Buffer[] = [];
  const { result } = await executeRun(
    { task: { id: 'selftest-probe', runtime: 'python', code: probeCode(markerDirs) }, profile: o.runtimes.get('python')!, limits: effectiveLimits(o.maxima, SELFTEST_LIMITS) },
    runCtx,
    { output: async (kind, data) => void (kind === 'stdout' ? chunks : errors).push(data) },
  );
  if (result.status !== 'ok') return [`probe run failed: ${result.status} ${result.error ?? ''} ${Buffer.concat(errors).toString().slice(-300)}`];
  return problemsIn(JSON.parse(Buffer.concat(chunks).toString()) as ProbeFindings);
}

function openDescriptors(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** Folders a check reported as `writable <dir>` lines. */
function writableDirs(stdout: Buffer): string[] {
  return stdout
    .toString()
    .split('\n')
    .filter((l) => l.startsWith('writable '))
    .map((l) => l.slice('writable '.length));
}

/** A TCP listener on 127.0.0.1 that counts connections: what a snippet must not reach. */
export async function listen(): Promise<{ port: number; connections: number; close(): void }> {
  const state = { port: 0, connections: 0, close: () => server.close() };
  const server = net.createServer((socket) => {
    state.connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}
