// A session as a controller sees it (README, "Sessions"): `client.session({ runtime })` gives a
// handle whose `run(code)` sends the next cell and follows it like `submit`, and `close()` ends
// it. The first cell goes on the task stream (it opens the session wherever it is taken); later
// cells go straight to the holder's own stream, appended only while the session is open (a script
// that checks, so none is lost to a session that ended meanwhile), and fall back to the task
// stream otherwise, where an executor answers them `session_ended`. Each cell is sent once the
// previous one has started, so cells run in the order `run` was called.
import { randomUUID } from 'node:crypto';
import type { EffectiveLimits } from '../protocol/result.js';
import type { SessionStore } from '../queue/session-store.js';
import type { TaskInput } from '../task/schema.js';
import type { FollowOptions, Submission } from './follow.js';

export interface SessionOptions {
  runtime: string;
  /** The session id; a new UUID by default. Ids are single-use. */
  id?: string;
  env?: Record<string, string>;
  args?: string[];
  /** Memory, processes, open files and file size hold for the whole session; wall, CPU and output per cell. */
  limits?: Partial<EffectiveLimits>;
  /** Lower the executors' idle timeout and lifetime for this session. */
  idleMs?: number;
  lifetimeMs?: number;
  /**
   * The session `id` is open already (opened by another program): every cell is a later cell,
   * sent without what the opening task fixed.
   */
  resume?: boolean;
}

export interface CellOptions extends FollowOptions {
  id?: string;
  stdin?: string;
  files?: TaskInput['files'];
  /** Lower this cell's wall, CPU or output budget. */
  limits?: Pick<Partial<EffectiveLimits>, 'wallMs' | 'cpuMs' | 'outputBytes'>;
}

/** What the client lends a session: how to send a task and follow it, and its Redis. */
export interface SessionTransport {
  /** Hand a later cell to the session's executor by the direct route (SessionStore.submit). */
  route(sessionId: string, body: string): ReturnType<SessionStore['submit']>;
  /** Validate and enqueue on the task stream, then follow (ExecutorClient.submit). */
  submit(input: TaskInput, options: FollowOptions): Promise<Submission>;
  /** Validate and serialise a task without sending it. */
  serialise(input: TaskInput): { id: string; body: string };
  follow(id: string, options: FollowOptions): Submission;
  closeSession(id: string): Promise<void>;
}

export class SessionHandle {
  readonly id: string;
  private previous: Promise<unknown> = Promise.resolve();
  private opened = false;

  constructor(
    private readonly t: SessionTransport,
    private readonly o: SessionOptions,
  ) {
    this.id = o.id ?? randomUUID();
    this.opened = o.resume === true;
  }

  /** Run `code` as the next cell; resolves once it is sent, with its submission to follow. */
  run(code: string, options: CellOptions = {}): Promise<Submission> {
    const sent = this.previous.then(() => this.send(code, options));
    // The next cell waits until this one has started (or failed to be sent).
    this.previous = sent.then(
      (sub) => new Promise<void>((resolve) => {
        sub.started.then(() => resolve(), () => resolve());
      }),
      () => undefined,
    );
    return sent;
  }

  /** Close the session (its state is wiped); harmless once it has ended. */
  close(): Promise<void> {
    return this.t.closeSession(this.id);
  }

  private async send(code: string, options: CellOptions): Promise<Submission> {
    const { id, stdin, files, limits, ...follow } = options;
    const first = !this.opened;
    const input: TaskInput = {
      ...(id === undefined ? {} : { id }),
      runtime: this.o.runtime,
      code,
      ...(stdin === undefined ? {} : { stdin }),
      ...(files === undefined ? {} : { files }),
      ...(first ? { env: this.o.env, args: this.o.args } : {}),
      limits: { ...(first ? this.o.limits : {}), ...limits },
      session: first ? { id: this.id, ...(this.o.idleMs ? { idleMs: this.o.idleMs } : {}), ...(this.o.lifetimeMs ? { lifetimeMs: this.o.lifetimeMs } : {}) } : this.id,
    };
    const followOptions = { ...follow, session: this.id, opensSession: first };
    this.opened = true;
    if (!first) {
      const { id: taskId, body } = this.t.serialise(input);
      if ('queued' in (await this.t.route(this.id, body))) return this.t.follow(taskId, followOptions);
      // Not open (ended, or not opened yet): the task stream routes it, or answers it session_ended.
      return this.t.submit({ ...input, id: taskId }, followOptions);
    }
    return this.t.submit(input, followOptions);
  }
}
