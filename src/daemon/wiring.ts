// What an executor is made of, put together without touching Redis or the disk: its three
// connections (lazy until start), the consumer and the order it takes work in, the control
// listener, the maxima. The standby pool is made at start, since making it copies files.
import type { Config } from '../config/options.js';
import type { Logger } from '../log.js';
import { controlKey } from '../protocol/keys.js';
import type { EffectiveLimits } from '../protocol/result.js';
import { connectRedis, type RedisClient as Redis } from '../queue/connection.js';
import { TaskConsumer } from '../queue/consumer.js';
import { ControlListener } from '../queue/control.js';
import { TaskSource, consumerGoneAfterMs, reclaimAfterMs } from '../queue/task-source.js';
import { configuredMaxima, effectiveLimits } from '../run/limits.js';
import type { RuntimeRegistry } from '../runtimes/load.js';
import { SESSION_KERNELS_DIR, STANDBY_BOOTSTRAPS_DIR } from '../runtimes/load.js';
import type { PreparedSandbox } from '../sandbox/prepare.js';
import { installBootstraps } from '../runtimes/bootstraps.js';
import { StandbyPool } from '../standby/pool.js';
import { SessionStore } from '../queue/session-store.js';
import type { ExecutorMetrics } from './metrics.js';

export interface ExecutorDeps {
  config: Config;
  runtimes: RuntimeRegistry;
  sandbox: PreparedSandbox;
  logger: Logger;
  /** The runtimes that keep a standby: EXECUTOR_STANDBY checked against the runtimes (config/standby.ts). */
  standby: ReadonlySet<string>;
}

/** Everything a phase of a task may use. */
export interface Wiring extends ExecutorDeps {
  metrics: ExecutorMetrics | undefined;
  /** For everything but the blocking read: acks, results, interrupting the read. */
  redis: Redis;
  /** Dedicated to the blocking read. */
  blocking: Redis;
  consumer: TaskConsumer;
  source: TaskSource;
  control: ControlListener;
  maxima: EffectiveLimits;
  /** Aborted by a forced stop: the run in hand ends at once. */
  forced: AbortSignal;
  sessions: SessionStore;
  /** The session kernels, installed in the work dir on first use (see installBootstraps). */
  kernelsDir: () => string;
  /** Draining: a held session ends `drained`. */
  draining: () => boolean;
}

export function wire(deps: ExecutorDeps, metrics: ExecutorMetrics | undefined, forced: AbortSignal, taking: () => boolean, draining: () => boolean): Wiring {
  const { config, logger } = deps;
  const redis = connectRedis(config, `${config.consumer}:main`, logger);
  const blocking = connectRedis(config, `${config.consumer}:read`, logger);
  const consumer = new TaskConsumer(blocking, redis, config);
  const source = new TaskSource(
    consumer,
    { reclaimAfterMs: reclaimAfterMs(config), consumerGoneAfterMs: consumerGoneAfterMs(config) },
    { logger, taking, onReclaimed: () => metrics?.reclaimed.inc(), onPruned: (n) => metrics?.consumersRemoved.inc(n) },
  );
  const control = new ControlListener(connectRedis(config, `${config.consumer}:control-read`, logger), controlKey(config.stream), config.resultTtlS * 1000, logger);
  let kernels: string | undefined;
  const kernelsDir = () => (kernels ??= installBootstraps(SESSION_KERNELS_DIR, deps.sandbox.workDir));
  const sessions = new SessionStore(redis, config.keyPrefix);
  return { ...deps, metrics, redis, blocking, consumer, source, control, maxima: configuredMaxima(config), forced, sessions, kernelsDir, draining };
}

/** Interpreters started ahead of time; only with dedicated sandbox users (one uid per runtime). */
export function startStandbys(w: Wiring): StandbyPool | undefined {
  const { sandbox, logger } = w;
  return sandbox.identity.mode === 'dedicated' && w.standby.size > 0
    ? new StandbyPool({
        runtimes: w.runtimes,
        enabled: w.standby,
        slots: Math.max(1, ...[...sandbox.identities.values()].map((ids) => ids.length)),
        context: (runtime, slot) => sandbox.runContext(logger.child({ runtime, standby: true, slot }), runtime, slot),
        limits: effectiveLimits(w.maxima, undefined),
        bootstrapsDir: installBootstraps(STANDBY_BOOTSTRAPS_DIR, sandbox.workDir),
        bootMs: w.config.standbyBootMs,
        logger,
      })
    : undefined;
}
