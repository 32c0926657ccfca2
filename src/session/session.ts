// One open session on this executor: its interpreter, its usage watch, its idle and lifetime
// deadlines, the output produced while no cell runs (delivered with the next cell's), and what
// out/ held after the last cell (a cell returns only what it added or changed). The first reason
// the session ends for wins; `ended` resolves with it whenever the session is over for a reason
// of its own (its interpreter gone, a session limit), so the holder stops waiting for cells.
import type { EffectiveLimits, SessionEndReason } from '../protocol/result.js';
import type { RunContext } from '../sandbox/types.js';
import type { Swept } from '../run/sweep.js';
import type { SessionInterpreter } from './interpreter.js';
import type { KernelEvent } from './kernel-link.js';
import { SessionUsage } from './usage.js';

export interface SessionLimits {
  /** Memory, processes, open files and file size: the opening task's, for the whole session. */
  limits: EffectiveLimits;
  idleMs: number;
  lifetimeMs: number;
  cpuMs: number;
}

const KILLED_AT_ONCE = new Set<SessionEndReason>(['memory_limit', 'budget', 'lifetime', 'executor_lost']);

// What output between cells may hold before the rest is dropped (delivered with the next cell).
const BETWEEN_CELLS_BYTES = 1024 * 1024;

export class Session {
  cells = 0;
  readonly openedAt = Date.now();
  lastActive = Date.now();
  readonly usage: SessionUsage;
  /** Output and displays produced while no cell ran, oldest first. */
  between: KernelEvent[] = [];
  betweenDropped = 0;
  private betweenBytes = 0;
  /** sha256 of each file of out/ as the last cell left it. */
  readonly known = new Map<string, string>();
  private reason: SessionEndReason | undefined;
  private onEnd: (r: SessionEndReason) => void = () => undefined;
  readonly ended: Promise<SessionEndReason>;

  constructor(
    readonly id: string,
    readonly runtime: string,
    readonly interpreter: SessionInterpreter,
    readonly ctx: RunContext,
    readonly sessionLimits: SessionLimits,
  ) {
    this.ended = new Promise((resolve) => (this.onEnd = resolve));
    const { processes } = interpreter;
    this.usage = new SessionUsage(
      {
        scope: processes.scope,
        meter: interpreter.meter,
        initPid: processes.initPid,
        privateDirs: processes.init?.pidNamespace ? ctx.privateDirs : [],
        intervalMs: ctx.cpuSampleMs,
        sessionCpuMs: sessionLimits.cpuMs,
        memoryBytes: sessionLimits.limits.memoryBytes,
        log: ctx.logger,
      },
      (why) => this.end(why === 'session_cpu' ? 'budget' : 'memory_limit'),
    );
    void interpreter.exited.then((e) => this.end(e.signal ? 'crashed' : 'exited'));
    this.idle();
  }

  get endReason(): SessionEndReason | undefined {
    return this.reason;
  }

  get idleDeadline(): number {
    return this.lastActive + this.sessionLimits.idleMs;
  }

  get lifetimeDeadline(): number {
    return this.openedAt + this.sessionLimits.lifetimeMs;
  }

  /**
   * The first reason wins. A limit (memory, the session's CPU, its lifetime, a lost lease) ends
   * its processes at once, as a run's budget does; the other reasons let the cell in hand finish.
   */
  end(reason: SessionEndReason): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    if (KILLED_AT_ONCE.has(reason)) void this.interpreter.kill();
    this.onEnd(reason);
  }

  /** No cell runs: what the kernel says now waits for the next cell. */
  idle(): void {
    this.lastActive = Date.now();
    this.interpreter.onEvent = (e) => {
      if (e.kind === 'done') return;
      const bytes = e.data.length;
      if (this.betweenBytes + bytes > BETWEEN_CELLS_BYTES) {
        this.betweenDropped += bytes;
        return;
      }
      this.betweenBytes += bytes;
      this.between.push(e);
    };
  }

  /** Take what was produced between cells. */
  takeBetween(): { events: KernelEvent[]; dropped: number } {
    const taken = { events: this.between, dropped: this.betweenDropped };
    this.between = [];
    this.betweenBytes = 0;
    this.betweenDropped = 0;
    return taken;
  }

  /** Over: the interpreter ended and swept like a run. */
  async close(graceMs = 0): Promise<Swept> {
    this.usage.close();
    return this.interpreter.end(graceMs);
  }
}
