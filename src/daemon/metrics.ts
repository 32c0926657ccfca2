// Prometheus metrics of one executor (prom-client, a registry of its own).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SESSION_END_REASONS, type ExitResult, type SandboxKind } from '../protocol/result.js';
import { SECURITY_EVENTS, securityEvents } from '../security-events.js';

export class ExecutorMetrics {
  readonly registry = new Registry();
  readonly runs = new Counter({ name: 'executor_runs_total', help: 'Tasks answered, by runtime and final status', labelNames: ['runtime', 'status'], registers: [this.registry] });
  readonly runDuration = new Histogram({
    name: 'executor_run_duration_seconds',
    help: 'Wall-clock time of runs',
    labelNames: ['runtime'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly queueWait = new Histogram({
    name: 'executor_queue_wait_seconds',
    help: 'Time from XADD of a task to the start of its run',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly cpuSeconds = new Counter({ name: 'executor_cpu_seconds_total', help: 'CPU used by snippets', labelNames: ['runtime'], registers: [this.registry] });
  readonly outputBytes = new Counter({ name: 'executor_output_bytes_total', help: 'stdout and stderr bytes streamed', labelNames: ['stream'], registers: [this.registry] });
  readonly interpreterStarts = new Counter({
    name: 'executor_interpreter_starts_total',
    help: 'Runs by how their interpreter started: a standby (started ahead of time) or fresh',
    labelNames: ['runtime', 'interpreter'],
    registers: [this.registry],
  });
  readonly reclaimed = new Counter({ name: 'executor_reclaimed_tasks_total', help: 'Tasks taken over from consumers that stopped answering', registers: [this.registry] });
  readonly duplicates = new Counter({ name: 'executor_duplicate_tasks_total', help: 'Stream entries refused because their task id had an answer or was running from another entry', registers: [this.registry] });
  readonly deadLettered = new Counter({ name: 'executor_dead_lettered_tasks_total', help: 'Tasks copied to the dead-letter stream', registers: [this.registry] });
  readonly runsLeft = new Gauge({ name: 'executor_runs_left', help: 'Runs left before this executor recycles', registers: [this.registry] });
  readonly securityEvents = new Counter({
    name: 'executor_security_events_total',
    help: 'Sandbox violation events, by their log event name (see README, security events)',
    labelNames: ['event'],
    registers: [this.registry],
  });
  readonly consumersRemoved = new Counter({ name: 'executor_consumers_removed_total', help: 'Consumers removed from the group: this one on exit, and dead ones with nothing pending', registers: [this.registry] });
  readonly sessionsOpen = new Gauge({ name: 'executor_sessions_open', help: 'Sessions this executor holds (0 or 1)', registers: [this.registry] });
  readonly cells = new Counter({ name: 'executor_session_cells_total', help: 'Cells run in sessions, by runtime', labelNames: ['runtime'], registers: [this.registry] });
  readonly sessionEnds = new Counter({ name: 'executor_session_ends_total', help: 'Sessions ended, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly sessionDuration = new Histogram({
    name: 'executor_session_duration_seconds',
    help: 'How long sessions were open',
    buckets: [1, 10, 60, 300, 600, 1800, 3600, 7200],
    registers: [this.registry],
  });
  readonly gvisor = new Gauge({ name: 'executor_gvisor', help: '1 when the executor runs under gVisor', registers: [this.registry] });

  constructor(runsLeft: number, sandbox: SandboxKind) {
    collectDefaultMetrics({ register: this.registry });
    this.runsLeft.set(runsLeft);
    this.gvisor.set(sandbox === 'gvisor' ? 1 : 0);
    for (const event of Object.values(SECURITY_EVENTS)) this.securityEvents.inc({ event }, 0);
    for (const reason of SESSION_END_REASONS) this.sessionEnds.inc({ reason }, 0);
    this.sessionsOpen.set(0);
    securityEvents.on('event', (event) => this.securityEvents.inc({ event }));
  }

  recordRun(runtime: string, r: ExitResult): void {
    this.runs.inc({ runtime, status: r.status });
    this.runDuration.observe({ runtime }, r.wallMs / 1000);
    this.cpuSeconds.inc({ runtime }, r.cpuMs / 1000);
    this.outputBytes.inc({ stream: 'stdout' }, r.stdoutBytes);
    this.outputBytes.inc({ stream: 'stderr' }, r.stderrBytes);
  }
}
