// The daemon's side of a run's init (runtime-profiles/launcher/run-init.pl): reads what it
// reports on its status descriptor and signals it. The init is root's and outside the snippet's
// reach; through it a run is ended without anything being executed as the sandbox user.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import { LAUNCHER_DIR } from '../runtimes/load.js';
import type { ProcessExit } from './types.js';

export const RUN_INIT_SCRIPT = fs.readFileSync(path.join(LAUNCHER_DIR, 'run-init.pl'), 'utf8');

export interface InitEnd {
  /** CPU of every process of the run (the init reaped them all), ms. */
  cpuMs: number;
  /** Whether the snippet's first process left others behind when it exited. */
  leftBehind: boolean;
}

const SIGNAL_NAMES = new Map(Object.entries(os.constants.signals).map(([name, n]) => [n as number, name as NodeJS.Signals]));

export class RunInit {
  /** The init's pid in the daemon's namespace; undefined when it never started. */
  readonly pid: Promise<number | undefined>;
  /** The snippet's first process's own exit; undefined when the init died before it could say. */
  readonly main: Promise<ProcessExit | undefined>;
  /** The end of the whole run; undefined when the init died before it could say. */
  readonly end: Promise<InitEnd | undefined>;
  /**
   * The snippet's first process's exit. Should the init die before it could say (killed from
   * outside), the snippet died with it: SIGKILL.
   */
  readonly exit: Promise<ProcessExit>;
  private knownPid: number | undefined;

  constructor(
    status: Readable,
    /** Whether the init is PID 1 of the run's own PID namespace (it then does the killing). */
    readonly pidNamespace: boolean,
  ) {
    const lines = readline.createInterface({ input: status });
    let onPid: (pid: number | undefined) => void = () => undefined;
    let onMain: (exit: ProcessExit | undefined) => void = () => undefined;
    let onEnd: (end: InitEnd | undefined) => void = () => undefined;
    this.pid = new Promise((resolve) => (onPid = resolve));
    this.main = new Promise((resolve) => (onMain = resolve));
    this.end = new Promise((resolve) => (onEnd = resolve));
    this.exit = this.main.then((main) => main ?? { code: null, signal: 'SIGKILL' });
    lines.on('line', (line) => {
      const [word, a, b] = line.split(' ');
      if (word === 'pid') {
        this.knownPid = Number(a) > 0 ? Number(a) : undefined;
        onPid(this.knownPid);
      } else if (word === 'main') {
        const exit = decodeWaitStatus(Number(a));
        onMain(exit && (b === '1' ? { ...exit, fileSizeReached: true } : exit));
      }
      else if (word === 'exit') onEnd({ cpuMs: Number(a), leftBehind: b === '1' });
    });
    const closed = () => {
      onPid(undefined);
      onMain(undefined);
      onEnd(undefined);
    };
    lines.on('close', closed);
    status.on('error', closed);
  }

  /** SIGTERM (and SIGCONT) every process of the run. Only with a PID namespace. */
  terminate(): void {
    this.send('SIGTERM');
  }

  /** SIGKILL every process of the run, in one pass of the kernel. Only with a PID namespace. */
  killAll(): void {
    this.send('SIGUSR1');
  }

  /** Kill the init itself: with a PID namespace the kernel then kills everything in it. */
  kill(): void {
    this.send('SIGKILL');
  }

  private send(signal: NodeJS.Signals): void {
    if (this.knownPid === undefined) return;
    try {
      process.kill(this.knownPid, signal);
    } catch {
      // already gone
    }
  }
}

function decodeWaitStatus(status: number): ProcessExit | undefined {
  if (!Number.isInteger(status) || status < 0) return undefined;
  const signal = status & 0x7f;
  if (signal === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: SIGNAL_NAMES.get(signal) ?? null };
}
