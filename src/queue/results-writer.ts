// Writes one task's result events to `executor:results:<id>`. Output entries are pipelined on one
// connection, so Redis stores them in the order they were produced. The stream expires
// EXECUTOR_RESULT_TTL_S after the run ends; while the run is going it carries a longer expiry so
// that a crashed executor's partial stream does not stay forever.
import type { Redis } from 'ioredis';
import { resultsKey } from '../protocol/keys.js';
import type { EffectiveLimits, ExitResult, SandboxKind } from '../protocol/result.js';
import type { OutputKind } from '../output/coalescer.js';

export class ResultsWriter {
  readonly key: string;

  constructor(
    private readonly redis: Redis,
    taskId: string,
    private readonly ttlS: number,
  ) {
    this.key = resultsKey(taskId);
  }

  async started(executor: string, attempt: number, limits: EffectiveLimits, sandbox: SandboxKind): Promise<void> {
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
      )
      .expire(this.key, runningTtlS)
      .exec()
      .then(throwOnExecError);
  }

  output(kind: OutputKind, data: Buffer): Promise<unknown> {
    return this.redis.xadd(this.key, '*', 'type', kind, 'data', data);
  }

  file(relPath: string, data: Buffer, part: number, parts: number): Promise<unknown> {
    return this.redis.xadd(this.key, '*', 'type', 'file', 'path', relPath, 'data', data, 'part', String(part), 'parts', String(parts));
  }

  async exit(result: ExitResult): Promise<void> {
    await this.redis
      .multi()
      .xadd(this.key, '*', 'type', 'exit', 'result', JSON.stringify(result))
      .expire(this.key, this.ttlS)
      .exec()
      .then(throwOnExecError);
  }
}

function throwOnExecError(replies: [Error | null, unknown][] | null): void {
  if (replies === null) throw new Error('transaction aborted');
  for (const [err] of replies) if (err) throw err;
}
