// Run `agent-executor serve` as a real child process (the built bin), with its logs parsed so
// tests can wait on lifecycle events instead of sleeping.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { redisUrl, unique } from './env.js';

export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli/main.js');

/** The places a test daemon sweeps: the standard ones, without discovery (fast, and no other checkout's folders). */
export const TEST_SWEEP_DIRS = '/tmp:/var/tmp:/dev/shm:/run/lock';

export interface DaemonEnvOptions {
  stream: string;
  /** The sandbox uid (sandboxUid(offset)): a test file's own. */
  uid: number;
  consumer?: string;
  /** `{ REDIS_URL }` or `{ REDIS_CLUSTER_NODES }`; the test run's private Redis by default. */
  redis?: Record<string, string>;
}

/** The settings every test daemon starts from; `extra` adds to them or overrides them. */
export function daemonEnv(o: DaemonEnvOptions, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...(o.redis ?? { REDIS_URL: redisUrl() }),
    EXECUTOR_STREAM: o.stream,
    EXECUTOR_GROUP: 'executors',
    EXECUTOR_CONSUMER: o.consumer ?? unique('exec'),
    EXECUTOR_SANDBOX_USER: String(o.uid),
    EXECUTOR_BLOCK_MS: '500',
    EXECUTOR_SWEEP_DIRS: TEST_SWEEP_DIRS,
    ...extra,
  };
}

export interface LogLine {
  msg?: string;
  [key: string]: unknown;
}

export class DaemonProcess {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private readonly listeners = new Set<() => void>();
  private closed = false;

  constructor(
    /** The daemon's settings, as given. */
    readonly env: Record<string, string>,
    args: string[] = [],
    spawnOptions: { uid?: number; gid?: number } = {},
  ) {
    const bin = spawnOptions.uid === undefined ? BIN : binReadableByOthers();
    this.child = spawn(process.execPath, [bin, 'serve', ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...spawnOptions,
    });
    readline.createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogLine);
      } catch {
        this.logs.push({ msg: line });
      }
      this.notify();
    });
    readline.createInterface({ input: this.child.stderr! }).on('line', (line) => {
      this.stderr.push(line);
      this.notify();
    });
    // On 'close', not 'exit': by then every log line the daemon wrote has been read.
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code, signal) => {
        this.closed = true;
        resolve({ code, signal });
      }),
    );
    void this.exited.then(() => this.notify());
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Wait for a log line with this msg (and matching fields); fails after timeoutMs. */
  waitForLog(msg: string, match: (l: LogLine) => boolean = () => true, timeoutMs = 15_000): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.logs.find((l) => l.msg === msg && match(l));
        if (hit) {
          done();
          resolve(hit);
        } else if (this.closed) {
          done();
          reject(new Error(`daemon exited before logging "${msg}"; stderr: ${this.stderr.join('\n')}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no "${msg}" log within ${timeoutMs} ms; logs: ${JSON.stringify(this.logs.map((l) => l.msg))}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Stop it if still running and wait for the exit (bounded). */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

/**
 * The bin, at a path another user can read. A checkout under a private folder (such as /root) is
 * not readable by an unprivileged uid, so the built package is copied to a world-readable
 * temporary folder for tests that start the daemon as such a uid.
 */
export function binReadableByOthers(): string {
  const root = path.resolve(path.dirname(BIN), '../..');
  if (readableByOthers(BIN)) return BIN;
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-executor-copy-'));
  fs.chmodSync(copy, 0o755);
  for (const part of ['package.json', 'dist', 'runtime-profiles', 'node_modules']) {
    fs.cpSync(path.join(root, part), path.join(copy, part), { recursive: true });
  }
  execFileSync('chmod', ['-R', 'o+rX', copy]);
  return path.join(copy, 'dist/cli/main.js');
}

function readableByOthers(file: string): boolean {
  for (let p = file; ; p = path.dirname(p)) {
    const mode = fs.statSync(p).mode;
    const needed = p === file ? 0o004 : 0o001;
    if ((mode & needed) === 0) return false;
    if (p === path.dirname(p)) return true;
  }
}
