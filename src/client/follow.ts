// Follow one task's results stream from its first entry to its `exit`, on a connection of its
// own (the read blocks). Events are handed to callbacks and to an async iterator as they arrive.
import type { Cluster, Redis } from 'ioredis';
import { ERROR_CODES, ExecutorError } from '../errors.js';
import { DEFAULT_KEY_PREFIX, resultsKey } from '../protocol/keys.js';
import type { DisplayEvent, ExitResult, FileEvent, ResultEvent, StartedEvent } from '../protocol/result.js';
import { decodeEntry } from './events.js';

export interface FollowOptions {
  onStdout?: (data: Buffer) => void;
  onStderr?: (data: Buffer) => void;
  /** Called with each part of each artifact (files the snippet left in `out/`), in order. */
  onFile?: (event: FileEvent) => void;
  /** Called at the start of every attempt; output of an earlier attempt should be discarded. */
  onStarted?: (event: StartedEvent) => void;
  /** Called with each part of each rich output of a session cell (an image, HTML...), in order. */
  onDisplay?: (event: DisplayEvent) => void;
  /**
   * The session the task names: a `started` that does not name it comes from an executor that
   * knows no sessions (it ran the task stateless), and `result` is rejected with SESSION_UNSUPPORTED.
   */
  session?: string;
  /** This task opens the session: a `started` that is not cell 1 means the id was someone else's session. */
  opensSession?: boolean;
  /** Give up (rejecting `result`) when no exit arrived within this many ms; none by default. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

const BLOCK_MS = 1000;
type StreamReply = [Buffer, [Buffer, Buffer[]][]][] | null;

export class Submission implements AsyncIterable<ResultEvent> {
  readonly result: Promise<ExitResult>;
  /** The first `started` entry; rejected when the task ends (or following fails) without one. */
  readonly started: Promise<StartedEvent>;
  private onStartedOnce: (e: StartedEvent) => void = () => undefined;
  private readonly queue: ResultEvent[] = [];
  private waiting: (() => void) | undefined;
  private finished = false;
  private failure: unknown;

  constructor(
    readonly id: string,
    connection: Redis | Cluster,
    options: FollowOptions = {},
    /** The executors' EXECUTOR_KEY_PREFIX. */
    private readonly keyPrefix = DEFAULT_KEY_PREFIX,
    /** Runs each read, turning a lost connection into the client's CLIENT_UNREACHABLE. */
    private readonly reach: <T>(command: () => Promise<T>) => Promise<T> = (command) => command(),
  ) {
    let failStarted: (err: unknown) => void = () => undefined;
    this.started = new Promise((resolve, reject) => {
      this.onStartedOnce = resolve;
      failStarted = reject;
    });
    this.started.catch(() => undefined);
    this.result = this.follow(connection, options);
    this.result.then(
      () => failStarted(new ExecutorError(ERROR_CODES.CLIENT_CLOSED, `task ${this.id} was answered without running`)),
      failStarted,
    );
    // The caller may only iterate; a failure is still reported there, never unhandled.
    this.result.catch(() => undefined);
  }

  /**
   * Events in order, from the first. Events are buffered until iterated (a run's output is capped
   * by the executor, so the buffer is bounded); iterate once.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<ResultEvent> {
    for (;;) {
      const next = this.queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.finished) {
        if (this.failure !== undefined) throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  private push(event: ResultEvent): void {
    this.queue.push(event);
    this.wake();
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  private async follow(redis: Redis | Cluster, o: FollowOptions): Promise<ExitResult> {
    const key = resultsKey(this.id, this.keyPrefix);
    const deadline = o.timeoutMs === undefined ? Infinity : Date.now() + o.timeoutMs;
    let lastId = '0-0';
    try {
      for (;;) {
        if (o.signal?.aborted) throw new ExecutorError(ERROR_CODES.CLIENT_CLOSED, `stopped following task ${this.id}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new ExecutorError(ERROR_CODES.CLIENT_TIMEOUT, `no result for task ${this.id} within ${o.timeoutMs} ms`);
        const block = Math.max(1, Math.min(BLOCK_MS, left));
        const reply = (await this.reach(() => redis.xreadBuffer('COUNT', 1000, 'BLOCK', block, 'STREAMS', key, lastId))) as StreamReply;
        for (const [entryId, fields] of reply?.[0]?.[1] ?? []) {
          lastId = entryId.toString();
          let event: ResultEvent | undefined;
          try {
            event = decodeEntry(fields);
          } catch (err) {
            throw new ExecutorError(ERROR_CODES.RESULT_MALFORMED, `results entry ${lastId} of task ${this.id} is malformed: ${(err as Error).message}`, { cause: err });
          }
          if (!event) continue;
          if (event.type === 'started' && o.session !== undefined && event.session?.id !== o.session) {
            throw new ExecutorError(ERROR_CODES.SESSION_UNSUPPORTED, `the executor that took task ${this.id} (${event.executor}) does not know sessions: it ran the cell without the session's state; upgrade the executors`);
          }
          if (event.type === 'started' && o.opensSession && event.session && event.session.cell !== 1) {
            throw new ExecutorError(ERROR_CODES.SESSION_ID_TAKEN, `session id "${o.session}" was already in use: task ${this.id} ran as its cell ${event.session.cell} (choose another, unguessable id)`);
          }
          if (event.type === 'started') {
            this.onStartedOnce(event);
            o.onStarted?.(event);
          } else if (event.type === 'display') o.onDisplay?.(event);
          else if (event.type === 'stdout') o.onStdout?.(event.data);
          else if (event.type === 'stderr') o.onStderr?.(event.data);
          else if (event.type === 'file') o.onFile?.(event);
          this.push(event);
          if (event.type === 'exit') return event.result;
        }
      }
    } catch (err) {
      this.failure = err;
      throw err;
    } finally {
      this.finished = true;
      this.wake();
      redis.disconnect();
    }
  }
}
