// The controller side, for TypeScript: submit a task, receive stdout and stderr as callbacks or
// an async iterator, await the result. Anything else can speak the same wire format with a plain
// Redis client (see README).
import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { answeredKey, DEFAULT_KEY_PREFIX, DEFAULT_STREAM, KEY_PREFIX_PATTERN, TASK_FIELD, controlKey } from '../protocol/keys.js';
import { taskSchema, type Task, type TaskInput } from '../task/schema.js';
import { ERROR_CODES, ExecutorError, usageError } from '../errors.js';
import { DEFAULT_TASK_BYTES, taskTooLarge } from '../task/size.js';
import { Submission, type FollowOptions } from './follow.js';
import { SessionHandle, type SessionOptions } from './session.js';
import { SessionStore } from '../queue/session-store.js';
import { DEFAULT_REDIS_URL, credentialsOf, parseClusterNodes, type ClusterNode } from '../config/redis.js';

export interface ClientOptions {
  /** A Redis URL or an ioredis client, standalone or Cluster (it is duplicated for blocking reads). */
  redis?: string | Redis | Cluster;
  /** The nodes of a Redis Cluster (`host:port[,host:port...]`, or parsed); used instead of `redis`'s host when not empty. */
  clusterNodes?: string | readonly ClusterNode[];
  /** The task stream; default `executor:tasks`. */
  stream?: string;
  /** The executors' EXECUTOR_KEY_PREFIX, under which results are written; default `executor:`. */
  keyPrefix?: string;
  /** The executors' EXECUTOR_TASK_BYTES: a larger task is refused here instead of sent; default 20 MiB. */
  maxTaskBytes?: number;
}

export interface SessionInfo {
  id: string;
  /** The consumer name of the executor that holds it. */
  holder: string;
  runtime: string;
  openedAt: number;
  lastActive: number;
  cells: number;
}

export class ExecutorClient {
  private readonly redis: Redis | Cluster;
  private readonly ownsConnection: boolean;
  private readonly stream: string;
  private readonly keyPrefix: string;
  private readonly maxTaskBytes: number;
  /** Sessions' records and streams, through the same scripts the executors use. */
  private readonly store: SessionStore;
  private readonly clusterNodes: readonly ClusterNode[];
  /** What the last failed connection attempt said (ECONNREFUSED...), for the one error we raise. */
  private lastConnectionError: string | undefined;

  constructor(options: ClientOptions = {}) {
    this.keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    if (!KEY_PREFIX_PATTERN.test(this.keyPrefix)) throw usageError(`key prefix ${JSON.stringify(this.keyPrefix)} must have no braces or one hash tag such as "executor:{code-review}:"`);
    this.clusterNodes = typeof options.clusterNodes === 'string' ? parseClusterNodes(options.clusterNodes) : (options.clusterNodes ?? []);
    if (this.clusterNodes.length > 0) {
      this.redis = new Cluster(
        [...this.clusterNodes],
        // The URL, when given with the nodes, carries the ACL user, its password and TLS.
        { redisOptions: { maxRetriesPerRequest: 3, ...(typeof options.redis === 'string' ? credentialsOf(options.redis) : {}) } },
      );
      this.ownsConnection = true;
    } else if (typeof options.redis === 'object') {
      this.redis = options.redis;
      this.ownsConnection = false;
    } else {
      this.redis = new Redis(options.redis ?? DEFAULT_REDIS_URL, { maxRetriesPerRequest: 3 });
      this.ownsConnection = true;
    }
    this.stream = options.stream ?? DEFAULT_STREAM;
    this.maxTaskBytes = options.maxTaskBytes ?? DEFAULT_TASK_BYTES;
    this.store = new SessionStore(this.redis, this.keyPrefix);
    // Connection errors reach the caller as one ExecutorError from the command that failed (see
    // reach()), not as ioredis's "unhandled error event" traces.
    if (this.ownsConnection) this.redis.on('error', (err: NodeJS.ErrnoException) => (this.lastConnectionError = err.code ?? err.message));
  }

  /** Run a command, turning a connection failure into one error that names the address only. */
  private async reach<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|max retries|Connection is closed|ClusterAllFailedError|Failed to refresh slots/i.test(`${e.code ?? ''} ${e.message}`)) {
        const why = e.code ?? this.lastConnectionError ?? e.message.split('\n')[0];
        throw new ExecutorError(ERROR_CODES.CLIENT_UNREACHABLE, `cannot reach Redis at ${this.address()}: ${why}`, { cause: err });
      }
      throw err;
    }
  }

  /** host:port (or the cluster's nodes), never a password from the URL. */
  private address(): string {
    if (this.redis instanceof Cluster) return this.clusterNodes.length > 0 ? this.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',') : 'the Redis Cluster';
    const { host, port } = this.redis.options;
    return `${host ?? '127.0.0.1'}:${port ?? 6379}`;
  }

  /** Validate and enqueue a task (an id is generated when missing), then follow it. */
  async submit(input: TaskInput, options: FollowOptions = {}): Promise<Submission> {
    const { task, body } = this.serialise(input);
    // An id that has its answer already would not run again (its entry is dead-lettered as a
    // duplicate) and following it would show the earlier run as if it were this one: say so.
    // (A best effort: two submits racing with one new id are still told apart by the executors.)
    if (input.id !== undefined && (await this.reach(() => this.redis.exists(answeredKey(task.id, this.keyPrefix)))) === 1) {
      throw new ExecutorError(ERROR_CODES.TASK_ID_USED, `task id "${task.id}" has already run (an id runs at most once within the executors' EXECUTOR_RESULT_TTL_S); choose another id, or follow the earlier run`);
    }
    // Follow before enqueueing is not needed: the results stream is read from its first entry.
    await this.reach(() => this.redis.xadd(this.stream, '*', TASK_FIELD, body));
    return this.follow(task.id, options);
  }

  /** A validated task and its JSON, refused here when an executor would refuse it for its size. */
  private serialise(input: TaskInput): { task: Task; body: string } {
    const task = this.validate(input);
    const body = JSON.stringify(task);
    // An executor would refuse it unread; say so now, in the same words, without sending it.
    const bytes = Buffer.byteLength(body);
    if (bytes > this.maxTaskBytes) throw new ExecutorError(ERROR_CODES.TASK_TOO_LARGE, taskTooLarge(bytes, this.maxTaskBytes));
    return { task, body };
  }

  /**
   * A stateful session (README, "Sessions"): `run(code)` sends each cell in order and follows it
   * like `submit` (plus `onDisplay`); `close()` ends it. Nothing is sent before the first `run`.
   */
  session(options: SessionOptions): SessionHandle {
    return new SessionHandle(
      {
        route: (sessionId, body) => this.reach(() => this.store.submit(sessionId, body)),
        submit: (input, o) => this.submit(input, o),
        serialise: (input) => {
          const { task, body } = this.serialise(input);
          return { id: task.id, body };
        },
        follow: (id, o) => this.follow(id, o),
        closeSession: (id) => this.closeSession(id),
      },
      options,
    );
  }

  /** The open sessions (oldest first): holder, runtime, when opened, last active, cells run. */
  async listSessions(): Promise<SessionInfo[]> {
    const ids = await this.reach(() => this.store.listed());
    const infos: SessionInfo[] = [];
    for (const id of ids) {
      const r = await this.store.record(id);
      if (r?.state !== 'open') continue;
      infos.push({ id, holder: r.holder ?? '', runtime: r.runtime ?? '', openedAt: Number(r.opened), lastActive: Number(r.lastActive ?? r.opened), cells: Number(r.cells ?? 0) });
    }
    return infos;
  }

  /** One session's record: open or ended (and why), its runtime; undefined when there is none (or it expired). */
  async sessionState(id: string): Promise<{ state: 'open' | 'ended'; runtime: string; reason?: string } | undefined> {
    const r = await this.reach(() => this.store.record(id));
    if (r === undefined) return undefined;
    return { state: r.state === 'open' ? 'open' : 'ended', runtime: r.runtime ?? '', ...(r.reason ? { reason: r.reason } : {}) };
  }

  /** Close a session: its holder ends it and wipes it; cells still queued are answered `session_ended`. */
  async closeSession(id: string): Promise<void> {
    await this.reach(() => this.redis.xadd(controlKey(this.stream), '*', 'close', id));
  }

  /** Follow the results of a task submitted earlier (or by someone else). */
  follow(id: string, options: FollowOptions = {}): Submission {
    return new Submission(id, this.takeReader(), options, this.keyPrefix, (command) => this.reach(command));
  }

  // Each submission follows its results on a connection of its own (the read blocks). One is kept
  // connected ahead of time, so a submission does not wait for a connection to be made: for a
  // session's cells that is a good part of the round trip.
  private spare: Redis | Cluster | undefined;

  private takeReader(): Redis | Cluster {
    const reader = this.spare ?? this.newReader();
    this.spare = this.closed ? undefined : this.newReader();
    return reader;
  }

  private newReader(): Redis | Cluster {
    const reader = this.redis.duplicate();
    reader.on('error', () => undefined);
    return reader;
  }

  private closed = false;

  /**
   * Cancel a task: a running one stops (status `cancelled`), a queued one ends `cancelled` without
   * running. Cancelling an unknown or finished task is harmless.
   */
  async cancel(id: string): Promise<void> {
    await this.reach(() => this.redis.xadd(controlKey(this.stream), '*', 'cancel', id));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.spare?.disconnect();
    this.spare = undefined;
    if (this.ownsConnection) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private validate(input: TaskInput): Task {
    const parsed = taskSchema.safeParse({ ...input, id: input.id ?? randomUUID() });
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `${i.path.join('.') || 'task'}: ${i.message}`).join('; ');
      throw usageError(`invalid task: ${why}`);
    }
    return parsed.data;
  }
}
