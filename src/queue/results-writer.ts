// Writes one task's result events to `<prefix>results:<id>`. Output entries are pipelined on one
// connection, so Redis stores them in the order they were produced, each tagged with its attempt.
// The stream expires EXECUTOR_RESULT_TTL_S after the run ends; while the run is going it carries
// a longer expiry so that a crashed executor's partial stream does not stay forever.
//
// One task id, one run, one answer (scripts in results-scripts.ts): a run begins by claiming the
// id for its stream entry and attempt, atomically with its `started` entry, and is refused when
// the id is answered, held by another entry (a duplicate), or a newer attempt of the same entry
// has started. Every later write of the attempt is fenced on that claim: an executor that was
// paused while its task was reclaimed and rerun writes nothing once it wakes up. The one `exit`
// is written only once per id, by the newest attempt, and says which attempt it answers.
import type { RedisClient as Redis } from './connection.js';
import { answeredKey, claimKey, resultsKey, writtenKey } from '../protocol/keys.js';
import type { EffectiveLimits, ExitResult, SandboxKind } from '../protocol/result.js';
import type { OutputKind } from '../output/coalescer.js';
import { ANSWER, BEGIN, FENCED_XADD } from './results-scripts.js';

// A display larger than this goes out in parts, as files do.
const DISPLAY_PART_BYTES = 1024 * 1024;

/** How a claim or an answer went. */
export type Claim =
  /** This attempt holds the id (begin) or its answer was written (answer). */
  | 'ok'
  /** The id was answered for this same stream entry already (its executor died before XACK). */
  | 'answered-self'
  /** The id was answered for another stream entry: this one is a duplicate. */
  | 'answered'
  /** Another stream entry holds the id and has not answered yet: this one is a duplicate. */
  | 'running'
  /** A newer attempt of this entry has started elsewhere: this one was presumed dead. */
  | 'stale';

export interface EntryRef {
  /** The stream entry id. */
  id: string;
  /** Its delivery count: the attempt. */
  attempt: number;
}

export class ResultsWriter {
  readonly key: string;
  private readonly answered: string;
  private readonly claim: string;
  private readonly written: string;
  /** Numbers this attempt's fenced writes, in the order they are sent. */
  private sequence = 0;
  /** How long the claim (and the record of written writes) lives while the run goes on. */
  private runningTtlS = 0;

  constructor(
    private readonly redis: Redis,
    /** The task, and the key prefix its keys are under (EXECUTOR_KEY_PREFIX). */
    { taskId, prefix }: { taskId: string; prefix?: string },
    private readonly ttlS: number,
    /** Extra fields on every entry (a trace context). */
    private readonly extra: string[] = [],
    /** The stream entry being answered; without one, writes are not fenced. */
    private readonly entry?: EntryRef,
  ) {
    this.key = resultsKey(taskId, prefix);
    this.answered = answeredKey(taskId, prefix);
    this.claim = claimKey(taskId, prefix);
    this.written = writtenKey(taskId, prefix);
  }

  private get claimValue(): string {
    return `${this.entry!.id} ${this.entry!.attempt}`;
  }

  /** Claim the id for this entry's attempt and write `started`, atomically. */
  async begin(executor: string, limits: EffectiveLimits, sandbox: SandboxKind, more: string[] = []): Promise<Claim> {
    if (!this.entry) throw new Error('begin() needs the stream entry');
    const runningTtlS = this.ttlS + Math.ceil(limits.wallMs / 1000) + 60;
    this.runningTtlS = runningTtlS;
    const fields = ['type', 'started', 'executor', executor, 'attempt', String(this.entry.attempt), 'limits', JSON.stringify(limits), 'sandbox', sandbox, ...more, ...this.extra];
    const claimed = (await this.redis.eval(BEGIN, 3, this.key, this.answered, this.claim, this.entry.id, String(this.entry.attempt), String(runningTtlS), String(runningTtlS), ...fields)) as string;
    return claimed as Claim;
  }

  output(kind: OutputKind, data: Buffer): Promise<unknown> {
    return this.append(['type', kind, 'data', data, 'attempt', String(this.entry?.attempt ?? 1)]);
  }

  file(relPath: string, data: Buffer, part: number, parts: number): Promise<unknown> {
    return this.append(['type', 'file', 'path', relPath, 'data', data, 'part', String(part), 'parts', String(parts), 'attempt', String(this.entry?.attempt ?? 1)]);
  }

  /**
   * One representation of displayed object `display` (from 1 within the run or cell): `type
   * display mime <m> data <bytes> display <k>`, split into `part <i> parts <n>` entries over 1 MiB.
   * Every part is sent before this returns (in order, on one connection), so output that follows
   * never comes between them.
   */
  display(display: number, mime: string, data: Buffer): Promise<unknown> {
    const parts = Math.max(1, Math.ceil(data.length / DISPLAY_PART_BYTES));
    const sent: Promise<unknown>[] = [];
    for (let i = 0; i < parts; i++) {
      const split = parts > 1 ? ['part', String(i + 1), 'parts', String(parts)] : [];
      const bytes = data.subarray(i * DISPLAY_PART_BYTES, (i + 1) * DISPLAY_PART_BYTES);
      sent.push(this.append(['type', 'display', 'mime', mime, 'data', bytes, 'display', String(display), ...split, 'attempt', String(this.entry?.attempt ?? 1)]));
    }
    return Promise.all(sent);
  }

  // The whole script is sent each time (EVAL, not EVALSHA): after a Redis restart an EVALSHA
  // fails with NOSCRIPT and is re-sent as EVAL, and a later EVALSHA could then overtake it.
  private append(fields: (string | Buffer)[]): Promise<unknown> {
    if (!this.entry) return this.redis.xadd(this.key, '*', ...fields);
    const ttlS = String(this.runningTtlS || this.ttlS);
    return this.redis.eval(FENCED_XADD, 4, this.key, this.claim, this.written, this.answered, this.claimValue, String(++this.sequence), ttlS, ...fields);
  }

  /**
   * Write the one final answer. `ran`: whether this attempt ran the task (then only the newest
   * attempt may answer); otherwise it is answered without a run (rejected, expired, cancelled,
   * abandoned). 'ok' when written.
   */
  async answer(result: ExitResult, executor: string, ran: boolean): Promise<Claim> {
    const { attempt: _omit, ...rest } = result;
    const written = (await this.redis.eval(
      ANSWER,
      3,
      this.key,
      this.answered,
      this.claim,
      JSON.stringify(rest),
      String(this.ttlS),
      this.entry?.id ?? '',
      ran && this.entry ? String(this.entry.attempt) : '',
      executor,
      String(this.entry?.attempt ?? 1),
      ...this.extra,
    )) as string;
    return written === 'written' ? 'ok' : (written as Claim);
  }

  /** Write the one final answer for an id, unfenced; false when it had already been answered. */
  async exit(result: ExitResult, executor: string): Promise<boolean> {
    return (await this.answer(result, executor, false)) === 'ok';
  }
}
