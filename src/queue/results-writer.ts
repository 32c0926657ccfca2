// Writes one task's result events to `executor:results:<id>`. Output entries are pipelined on one
// connection, so Redis stores them in the order they were produced, each tagged with its attempt.
// The stream expires EXECUTOR_RESULT_TTL_S after the run ends; while the run is going it carries
// a longer expiry so that a crashed executor's partial stream does not stay forever.
//
// A task gets exactly one `exit`: the final write is a script that sets a marker and appends the
// entry only if the marker was not set, so a slow (not dead) executor finishing after its task
// was answered elsewhere adds nothing.
import type { RedisClient as Redis } from './connection.js';
import { answeredKey, resultsKey } from '../protocol/keys.js';
import type { EffectiveLimits, ExitResult, SandboxKind } from '../protocol/result.js';
import type { OutputKind } from '../output/coalescer.js';

const ANSWER_ONCE = `
if redis.call('SET', KEYS[2], ARGV[3], 'NX', 'EX', ARGV[2]) then
  redis.call('XADD', KEYS[1], '*', 'type', 'exit', 'result', ARGV[1], unpack(ARGV, 4))
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

export class ResultsWriter {
  readonly key: string;
  private readonly answered: string;
  private attempt = 1;

  constructor(
    private readonly redis: Redis,
    taskId: string,
    private readonly ttlS: number,
    /** Extra fields on every entry (a trace context). */
    private readonly extra: string[] = [],
  ) {
    this.key = resultsKey(taskId);
    this.answered = answeredKey(taskId);
  }

  async started(executor: string, attempt: number, limits: EffectiveLimits, sandbox: SandboxKind): Promise<void> {
    this.attempt = attempt;
    const runningTtlS = this.ttlS + Math.ceil(limits.wallMs / 1000) + 60;
    await this.redis
      .multi()
      .xadd(
        this.key,
        '*',
        'type',
        'started',
        'executor',
        executor,
        'attempt',
        String(attempt),
        'limits',
        JSON.stringify(limits),
        'sandbox',
        sandbox,
        ...this.extra,
      )
      .expire(this.key, runningTtlS)
      .exec()
      .then(throwOnExecError);
  }

  output(kind: OutputKind, data: Buffer): Promise<unknown> {
    return this.redis.xadd(this.key, '*', 'type', kind, 'data', data, 'attempt', String(this.attempt));
  }

  file(relPath: string, data: Buffer, part: number, parts: number): Promise<unknown> {
    return this.redis.xadd(this.key, '*', 'type', 'file', 'path', relPath, 'data', data, 'part', String(part), 'parts', String(parts), 'attempt', String(this.attempt));
  }

  /** Write the one final answer; false when the task had already been answered (nothing written). */
  async exit(result: ExitResult, executor: string): Promise<boolean> {
    const written = await this.redis.eval(ANSWER_ONCE, 2, this.key, this.answered, JSON.stringify(result), String(this.ttlS), executor, ...this.extra);
    return written === 1;
  }
}

function throwOnExecError(replies: [Error | null, unknown][] | null): void {
  if (replies === null) throw new Error('transaction aborted');
  for (const [err] of replies) if (err) throw err;
}
