// The end of a task that ran: its result written (bounded), then the entry acknowledged, then
// what the run revealed reported. A result that cannot be written leaves the entry pending, to be
// reclaimed; the claim and the one-answer marker make a late second write harmless.
import type { Logger } from '../log.js';
import { isLimitStatus, type ExitResult } from '../protocol/result.js';
import type { StreamTask } from '../queue/consumer.js';
import type { ResultsWriter } from '../queue/results-writer.js';
import { withTimeout } from '../util/timeout.js';
import { SECURITY_EVENTS, securityEvent } from '../security-events.js';
import { HARD_LINK_REFUSED, LINK_REFUSED } from '../workspace/artifacts.js';
import type { Wiring } from './wiring.js';

export async function deliverResult(w: Wiring, entry: StreamTask, writer: ResultsWriter, r: ExitResult, log: Logger): Promise<void> {
  try {
    // Bounded: if Redis stays away, the task is left unacknowledged and is reclaimed later.
    const answered = await withTimeout(writer.answer(r, w.config.consumer, true), w.config.deliveryTimeoutMs, 'Redis did not take the result in time');
    if (answered === 'stale') {
      // Presumed dead and rerun elsewhere: that attempt answers and acknowledges.
      log.warn('a newer attempt of this task started while this one ran (this executor was presumed dead); result dropped');
    } else {
      if (answered !== 'ok') log.warn({ answered }, 'the task had already been answered; result dropped');
      await w.consumer.ack(entry.entryId);
    }
  } catch (err) {
    log.error({ err }, 'the result could not be written; the task stays pending and will be reclaimed');
  }
}

/** The security events a finished run calls for, and its one summary line. */
export function reportRun(log: Logger, r: ExitResult): void {
  if (isLimitStatus(r.status)) securityEvent(log, SECURITY_EVENTS.budgetKill, { status: r.status, error: r.error, wallMs: r.wallMs, cpuMs: r.cpuMs }, 'limit hit');
  const links = r.artifacts?.filter((a) => a.reason === LINK_REFUSED || a.reason === HARD_LINK_REFUSED) ?? [];
  if (links.length > 0) securityEvent(log, SECURITY_EVENTS.pathEscape, { source: 'artifacts', paths: links.slice(0, 20).map((a) => a.path), count: links.length }, 'out/ held links; they were not followed');
  log.info({ status: r.status, exitCode: r.exitCode, signal: r.signal, wallMs: r.wallMs, cpuMs: r.cpuMs, truncated: r.truncated }, 'run finished');
}
