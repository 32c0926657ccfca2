// `agent-executor serve`: run the daemon until it recycles, is stopped, or finds its sandbox dirty.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { OPTIONS, flagName, type OptionName } from '../config/options.js';
import { Executor, type ExecutorDeps } from '../daemon/executor.js';
import { startHttpServer } from '../daemon/http.js';
import { ExecutorMetrics } from '../daemon/metrics.js';
import { createLogger } from '../log.js';
import { SECURITY_EVENTS, securityEvent } from '../security-events.js';
import { loadRuntimes } from '../runtimes/load.js';
import { prepareSandbox } from '../sandbox/prepare.js';
import { cleanAtStart } from '../sandbox/start-clean.js';
import { holdSandboxUids } from '../sandbox/uid-lock.js';
import { standbyRuntimes } from '../config/standby.js';

/**
 * Exit status when the sandbox could not be proven clean — after a run, or at start-up before
 * the first task: the container must be replaced.
 */
export const EXIT_DIRTY = 3;

export async function serve(argv: string[]): Promise<number> {
  const names = Object.keys(OPTIONS) as OptionName[];
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(
      names.map((n) => [flagName(n), { type: n === 'allowSharedUser' ? ('boolean' as const) : ('string' as const) }]),
    ),
    strict: true,
  });
  const flags: Partial<Record<OptionName, string>> = {};
  for (const n of names) {
    const v = values[flagName(n)];
    if (v !== undefined) flags[n] = v === true ? '1' : String(v);
  }
  const config = loadConfig(process.env, flags);
  const logger = createLogger(config.logLevel);
  const runtimes = loadRuntimes(config.runtimesDir);
  // The one setting that needs the runtimes, checked as soon as they are known: a wrong one says
  // so before anything is taken, whoever holds the uids.
  const standby = standbyRuntimes(config.standby, runtimes);
  // Without standby interpreters a second slot would only take uids.
  const sandbox = await prepareSandbox({ ...config, standbySlots: standby.size > 0 ? config.standbySlots : 1 }, logger, [...runtimes.keys()]);
  const deps = { config, runtimes, sandbox, logger, standby };
  if (sandbox.identity.mode === 'shared') {
    logger.warn('snippets share the daemon\'s user (EXECUTOR_ALLOW_SHARED_USER): for local development only, not isolated');
    return run(deps);
  }
  // First take the uids (never kill another daemon's runs), then prove them clean.
  const identities = [...new Map([...sandbox.identities.values()].flat().map((i) => [i.uid, i])).values()];
  const lock = await holdSandboxUids(identities.map((i) => i.uid), config.consumer);
  try {
    const start = await cleanAtStart(identities, sandbox.sweepPlaces, logger);
    if (!start.clean) {
      securityEvent(logger, SECURITY_EVENTS.dirty, { phase: 'start-up', problems: start.problems.slice(0, 20) }, 'could not prove the sandbox clean at start-up; not taking any task');
      return EXIT_DIRTY;
    }
    return await run(deps);
  } finally {
    lock.release();
  }
}

async function run(deps: ExecutorDeps): Promise<number> {
  const { config, sandbox, logger } = deps;
  const metrics = new ExecutorMetrics(config.maxRuns, sandbox.capabilities.kind);
  const executor = new Executor(deps, metrics);
  const server = config.httpPort > 0 ? await startHttpServer(config.httpPort, executor, metrics, logger) : undefined;
  // Draining is bounded (by default the wall budget plus a margin, inside which the run in hand
  // ends by itself; resolved by the config). Kubernetes' termination grace must be longer.
  const drainMs = config.drainTimeoutMs;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      logger.info({ signal, drainMs }, 'draining: no new tasks; finishing the run in hand');
      void executor.close();
      setTimeout(() => {
        logger.warn({ drainMs }, 'drain deadline passed: aborting the run in hand');
        void executor.abort();
      }, drainMs).unref();
    } else {
      logger.warn({ signal }, 'second signal: aborting the run in hand');
      void executor.abort();
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    await executor.start();
  } catch (err) {
    // A drain asked for before the executor was connected ends its connecting: a clean stop.
    if (signals === 0) throw err;
    logger.info({ err: (err as Error).message }, 'executor stopped before it was connected');
    server?.close();
    return 0;
  }
  const reason = await executor.done();
  server?.close();
  return reason === 'dirty' ? EXIT_DIRTY : 0;
}
