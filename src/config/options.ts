// Every setting of `agent-executor serve` (and the few `submit` and `cancel` read): its environment
// variable, its flag, its schema and its default. This table is the one place a setting is defined
// and parsed (lists become arrays here); the README's configuration table mirrors it.
import os from 'node:os';
import { z } from 'zod';
import { CLUSTER_NODES_PATTERN, DEFAULT_REDIS_URL, parseClusterNodes } from './redis.js';
import { DEFAULT_GROUP, DEFAULT_KEY_PREFIX, DEFAULT_STREAM, KEY_PREFIX_PATTERN } from '../protocol/keys.js';
import { MIN_OPEN_FILES } from '../protocol/result.js';
import { DEFAULT_RUNTIMES_DIR } from '../runtimes/load.js';
import { MAX_PATH_BYTES } from '../task/schema.js';
import { DEFAULT_TASK_BYTES } from '../task/size.js';

// Node's timers take at most 2^31 - 1 ms (about 24.8 days); a longer one fires at once.
const MAX_TIMER_S = Math.floor((2 ** 31 - 1) / 1000);
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const flag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no'])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');
const redisUrl = z
  .string()
  .url()
  .refine((u) => /^rediss?:\/\//.test(u), 'must start with redis:// or rediss://');
const name = z.string().min(1).max(200);
/** A colon-separated list of folders, empty entries dropped. */
const splitDirs = (list: string): string[] => list.split(':').filter((d) => d !== '');
const STANDBY_PATTERN = /^(all|none|[a-z][a-z0-9_-]*(,[a-z][a-z0-9_-]*)*)$/;
// PATH_MAX (4096, with its NUL) less the longest task file path, less 64 bytes for the scratch
// directory's own name (31) and the separators: a task's files always fit under the work dir.
const MAX_WORK_DIR_BYTES = 4095 - MAX_PATH_BYTES - 64;

export const OPTIONS = {
  redisUrl: { env: 'REDIS_URL', schema: redisUrl, default: DEFAULT_REDIS_URL },
  stream: { env: 'EXECUTOR_STREAM', schema: name, default: DEFAULT_STREAM },
  group: { env: 'EXECUTOR_GROUP', schema: name, default: DEFAULT_GROUP },
  consumer: { env: 'EXECUTOR_CONSUMER', schema: name, default: `${os.hostname()}-${process.pid}` },
  maxRuns: { env: 'EXECUTOR_MAX_RUNS', schema: int(1, 1_000_000), default: '100' },
  // 0: no age limit.
  maxAgeS: { env: 'EXECUTOR_MAX_AGE_S', schema: int(0, MAX_TIMER_S), default: '0' },
  recycleJitter: { env: 'EXECUTOR_RECYCLE_JITTER', schema: z.coerce.number().min(0).max(1), default: '0.1' },
  wallMs: { env: 'EXECUTOR_WALL_MS', schema: int(100, 86_400_000), default: '30000' },
  cpuMs: { env: 'EXECUTOR_CPU_MS', schema: int(100, 86_400_000), default: '10000' },
  outputBytes: { env: 'EXECUTOR_OUTPUT_BYTES', schema: int(1, 1024 ** 3), default: '1048576' },
  resultTtlS: { env: 'EXECUTOR_RESULT_TTL_S', schema: int(1, 365 * 86_400), default: '3600' },
  logLevel: {
    env: 'LOG_LEVEL',
    schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    default: 'info',
  },
  sandboxUser: { env: 'EXECUTOR_SANDBOX_USER', schema: name, default: '64000' },
  allowSharedUser: { env: 'EXECUTOR_ALLOW_SHARED_USER', schema: flag, default: '0' },
  runtimesDir: { env: 'EXECUTOR_RUNTIMES_DIR', schema: z.string().min(1), default: DEFAULT_RUNTIMES_DIR },
  // As root, /tmp is replaced per run by a private tmpfs, so scratch directories live elsewhere.
  workDir: {
    env: 'EXECUTOR_WORK_DIR',
    schema: z.string().min(1).refine((d) => Buffer.byteLength(d) <= MAX_WORK_DIR_BYTES, `must be at most ${MAX_WORK_DIR_BYTES} bytes, so that every task file path fits in PATH_MAX`),
    default: process.getuid?.() === 0 ? '/var/lib/agent-executor/runs' : os.tmpdir(),
  },
  sandboxPath: {
    env: 'EXECUTOR_SANDBOX_PATH',
    schema: z.string().min(1),
    default: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  },
  memoryBytes: { env: 'EXECUTOR_MEMORY_BYTES', schema: int(16 * 1024 ** 2, 1024 ** 4), default: String(512 * 1024 ** 2) },
  processes: { env: 'EXECUTOR_PROCESSES', schema: int(1, 1_000_000), default: '128' },
  // Below MIN_OPEN_FILES some runtime could not even start.
  openFiles: { env: 'EXECUTOR_OPEN_FILES', schema: int(MIN_OPEN_FILES, 1_048_576), default: '1024' },
  fileSizeBytes: { env: 'EXECUTOR_FILE_SIZE_BYTES', schema: int(1, 1024 ** 4), default: String(64 * 1024 ** 2) },
  addressSpaceBytes: { env: 'EXECUTOR_ADDRESS_SPACE_BYTES', schema: int(0, 1024 ** 5), default: String(4 * 1024 ** 3) },
  tmpBytes: { env: 'EXECUTOR_TMP_BYTES', schema: int(1024 ** 2, 1024 ** 4), default: String(64 * 1024 ** 2) },
  privateDirs: { env: 'EXECUTOR_PRIVATE_DIRS', schema: z.string().transform(splitDirs), default: '/tmp:/var/tmp:/dev/shm:/run/lock' },
  // `auto`: discovered at start-up (sandbox/writable-places.ts).
  sweepDirs: { env: 'EXECUTOR_SWEEP_DIRS', schema: z.string().min(1).transform((v): 'auto' | string[] => (v === 'auto' ? 'auto' : splitDirs(v))), default: 'auto' },
  network: { env: 'EXECUTOR_NETWORK', schema: z.enum(['none', 'allow']), default: 'none' },
  requireGvisor: { env: 'EXECUTOR_REQUIRE_GVISOR', schema: flag, default: '0' },
  filesBytes: { env: 'EXECUTOR_FILES_BYTES', schema: int(0, 1024 ** 3), default: String(10 * 1024 ** 2) },
  // Redis refuses a bulk string over 512 MiB (proto-max-bulk-len) anyway.
  taskBytes: { env: 'EXECUTOR_TASK_BYTES', schema: int(64 * 1024, 512 * 1024 ** 2), default: String(DEFAULT_TASK_BYTES) },
  artifactFiles: { env: 'EXECUTOR_ARTIFACT_FILES', schema: int(0, 100_000), default: '64' },
  artifactBytes: { env: 'EXECUTOR_ARTIFACT_BYTES', schema: int(0, 1024 ** 3), default: String(10 * 1024 ** 2) },
  // Keeps the exit entry small whatever out/ holds (20,000 links made it 80 MB before the cap).
  artifactList: { env: 'EXECUTOR_ARTIFACT_LIST', schema: int(1, 100_000), default: '1000' },
  maxAttempts: { env: 'EXECUTOR_MAX_ATTEMPTS', schema: int(1, 100), default: '3' },
  reclaimMarginMs: { env: 'EXECUTOR_RECLAIM_MARGIN_MS', schema: int(0, 3_600_000), default: '15000' },
  keyPrefix: {
    env: 'EXECUTOR_KEY_PREFIX',
    schema: z.string().min(1).max(100).regex(KEY_PREFIX_PATTERN, 'must have no braces, or one hash tag such as executor:{code-review}:'),
    default: DEFAULT_KEY_PREFIX,
  },
  // Empty: `<EXECUTOR_KEY_PREFIX>dead` (resolved by loadOptions).
  deadStream: { env: 'EXECUTOR_DEAD_STREAM', schema: z.string().max(200), default: '' },
  httpPort: { env: 'EXECUTOR_HTTP_PORT', schema: int(0, 65535), default: '0' },
  // 0: the wall budget + kill grace + DRAIN_MARGIN_MS (resolved by loadOptions).
  drainTimeoutMs: { env: 'EXECUTOR_DRAIN_TIMEOUT_MS', schema: int(0, 86_400_000), default: '0' },
  deliveryTimeoutMs: { env: 'EXECUTOR_DELIVERY_TIMEOUT_MS', schema: int(100, 3_600_000), default: '30000' },
  // Empty: no cluster (REDIS_URL's host is used).
  clusterNodes: { env: 'REDIS_CLUSTER_NODES', schema: z.string().regex(CLUSTER_NODES_PATTERN, 'must be host:port[,host:port...]').transform(parseClusterNodes), default: '' },
  killGraceMs: { env: 'EXECUTOR_KILL_GRACE_MS', schema: int(0, 10_000), default: '200' },
  cpuSampleMs: { env: 'EXECUTOR_CPU_SAMPLE_MS', schema: int(5, 1000), default: '50' },
  blockMs: { env: 'EXECUTOR_BLOCK_MS', schema: int(10, 60_000), default: '5000' },
  /**
   * Runtimes that keep an interpreter started ahead of time: `all` (those whose profile has a
   * standby), `none`, or names (checked against the runtimes by config/standby.ts).
   */
  standby: {
    env: 'EXECUTOR_STANDBY',
    schema: z
      .string()
      .regex(STANDBY_PATTERN, 'must be all, none or runtime names separated by commas')
      .transform((v): 'all' | 'none' | string[] => (v === 'all' || v === 'none' ? v : v.split(','))),
    default: 'all',
  },
  standbyBootMs: { env: 'EXECUTOR_STANDBY_BOOT_MS', schema: int(100, 600_000), default: '30000' },
  /**
   * Standby slots per runtime, each its own uid (README, "Standby interpreters"): with 2, the next
   * standby starts while a run executes, under the other slot's uid, so back-to-back tasks are warm too.
   */
  standbySlots: { env: 'EXECUTOR_STANDBY_SLOTS', schema: int(1, 2), default: '2' },
  // Sessions (README, "Sessions"). 0 refuses session tasks (a pool of one-shot executors).
  sessions: { env: 'EXECUTOR_SESSIONS', schema: flag, default: '1' },
  sessionIdleMs: { env: 'EXECUTOR_SESSION_IDLE_MS', schema: int(1000, MAX_TIMER_S * 1000), default: '600000' },
  sessionLifetimeMs: { env: 'EXECUTOR_SESSION_LIFETIME_MS', schema: int(1000, MAX_TIMER_S * 1000), default: '3600000' },
  sessionCpuMs: { env: 'EXECUTOR_SESSION_CPU_MS', schema: int(100, 86_400_000), default: '60000' },
  sessionLeaseMs: { env: 'EXECUTOR_SESSION_LEASE_MS', schema: int(1000, 600_000), default: '15000' },
} as const;

export type OptionName = keyof typeof OPTIONS;

export type Config = Readonly<{
  [K in OptionName]: z.output<(typeof OPTIONS)[K]['schema']>;
}>;

/** Added to the wall budget and kill grace for the default drain deadline (EXECUTOR_DRAIN_TIMEOUT_MS=0). */
export const DRAIN_MARGIN_MS = 10_000;

/** Flag spelling of an option: `maxRuns` -> `--max-runs`. */
export function flagName(option: OptionName): string {
  return option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
