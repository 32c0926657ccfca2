// The control stream, `<EXECUTOR_STREAM>:control`: entries `cancel <task id>` and `close <session
// id>`, written by anyone with a plain XADD. Every executor reads all of it (no consumer group: a
// cancel concerns whoever holds the task, or whoever will take it later; a close, whoever holds the
// session: closes are remembered too, so one sent while the session was opening counts). Ids are remembered for the results TTL, so a
// task cancelled while still queued ends `cancelled` when an executor reaches it — even an
// executor that started after the cancel was sent, since reading starts that far back.
import { untilConnected, type RedisClient as Redis } from './connection.js';
import type { Logger } from '../log.js';

const STOP_WAIT_MS = 1000;
const BLOCK_MS = 1000;

export class ControlListener {
  private readonly cancelled = new Map<string, number>();
  private readonly listeners = new Set<(taskId: string) => void>();
  private readonly closeListeners = new Set<(sessionId: string) => void>();
  private readonly closed = new Map<string, number>();
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    /** A connection of its own: the read blocks. */
    private readonly redis: Redis,
    private readonly key: string,
    private readonly rememberMs: number,
    private readonly log: Logger,
  ) {}

  /** Reads the recent history (so cancels sent before this executor started count), then follows. */
  async start(): Promise<void> {
    await untilConnected(this.redis);
    let lastId = `${Math.max(0, Date.now() - this.rememberMs)}-0`;
    lastId = await this.readOnce(lastId, 0);
    this.loop = this.follow(lastId);
  }

  isCancelled(taskId: string): boolean {
    return this.cancelled.has(taskId);
  }

  /** Called with each task id cancelled from now on; returns a function that unsubscribes. */
  onCancel(listener: (taskId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether a close was sent for this session (within the results TTL): one sent before its holder listened counts too. */
  isClosing(sessionId: string): boolean {
    return this.closed.has(sessionId);
  }

  private recordClose(sessionId: string): void {
    const now = Date.now();
    this.closed.set(sessionId, now);
    for (const [id, at] of this.closed) if (now - at > this.rememberMs) this.closed.delete(id);
    for (const l of this.closeListeners) l(sessionId);
  }

  /** Called with each session id asked to close (`close <sid>`) from now on; returns a function that unsubscribes. */
  onClose(listener: (sessionId: string) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.redis.disconnect();
    // With Redis away a read queued for the reconnect never settles: wait for the loop, bounded.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise((r) => (timer = setTimeout(r, STOP_WAIT_MS)))]);
    clearTimeout(timer);
  }

  private async follow(from: string): Promise<void> {
    let lastId = from;
    while (!this.stopped) {
      try {
        lastId = await this.readOnce(lastId, BLOCK_MS);
      } catch (err) {
        if (this.stopped) return;
        this.log.warn({ err: (err as Error).message }, 'reading the control stream failed; retrying');
        await new Promise((r) => setTimeout(r, BLOCK_MS));
      }
    }
  }

  private async readOnce(from: string, blockMs: number): Promise<string> {
    const args: (string | number)[] = ['COUNT', 1000];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    const reply = (await this.redis.xread(...(args as ['COUNT', number]), 'STREAMS', this.key, from)) as
      | [string, [string, string[]][]][]
      | null;
    let lastId = from;
    for (const [id, fields] of reply?.[0]?.[1] ?? []) {
      lastId = id;
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] === 'cancel') this.record(fields[i + 1]!);
        else if (fields[i] === 'close') this.recordClose(fields[i + 1]!);
      }
    }
    if (blockMs === 0 && reply?.[0]?.[1]?.length === 1000) return this.readOnce(lastId, 0);
    return lastId;
  }

  private record(taskId: string): void {
    const now = Date.now();
    this.cancelled.set(taskId, now);
    for (const [id, at] of this.cancelled) if (now - at > this.rememberMs) this.cancelled.delete(id);
    for (const l of this.listeners) l(taskId);
  }
}
