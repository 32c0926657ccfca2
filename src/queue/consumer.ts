// Reads tasks from the stream through the consumer group, one at a time, so that an executor
// never holds more tasks than the one it is running: what it did not take stays for the others.
// Entries are read as Buffers and left undecoded: a task over the size cap is refused by its
// byte length, without a decoded string (and a parsed copy) of it beside the bytes.
import { isCluster, untilConnected, type RedisClient as Redis } from './connection.js';
import { TASK_FIELD } from '../protocol/keys.js';
import { REMOVE_IDLE_CONSUMERS } from './group-scripts.js';

export interface StreamTask {
  /** The stream entry id, used to acknowledge it. */
  entryId: string;
  /** The raw `task` field, or undefined when the entry has none. */
  raw: Buffer | undefined;
  /** How many times this entry has been delivered (1 for a fresh read). */
  deliveries: number;
  /** All fields of the entry, as stored. */
  fields: Buffer[];
}

// How much longer than its BLOCK time a read may take before it is presumed lost.
const WATCHDOG_SLACK_MS = 5000;

export interface ConsumerOptions {
  stream: string;
  group: string;
  consumer: string;
  blockMs: number;
  /** How much longer than blockMs a read may take before it is abandoned; default 5 s. */
  watchdogSlackMs?: number;
}

export class TaskConsumer {
  private blockingClientId: number | undefined;

  constructor(
    /** Dedicated to XREADGROUP ... BLOCK. */
    private readonly blocking: Redis,
    /** Shared connection for acks and for interrupting the blocking read. */
    private readonly control: Redis,
    private readonly opts: ConsumerOptions,
  ) {
    // The client id changes on every reconnect; keep it current so interrupt() reaches the read.
    // (On a cluster there is no one connection to unblock; reads then end at their BLOCK time.)
    if (!isCluster(blocking)) blocking.on('ready', () => void this.refreshClientId());
  }

  async start(): Promise<void> {
    await Promise.all([untilConnected(this.blocking), untilConnected(this.control)]);
    if (!isCluster(this.blocking)) await this.refreshClientId();
    await this.ensureGroup();
  }

  /** Create the group from ID 0 so tasks queued before the first executor started are not skipped. */
  async ensureGroup(): Promise<void> {
    try {
      await this.control.xgroup('CREATE', this.opts.stream, this.opts.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  /**
   * Wait up to blockMs for one new task; null when none came or the read was interrupted. A
   * watchdog bounds the wait: a blocking read re-sent by the client after a reconnect can hang
   * past its BLOCK time, and a stream deleted under the group needs the group made again.
   */
  async read(): Promise<StreamTask | null> {
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<'stuck'>((resolve) => {
      timer = setTimeout(() => resolve('stuck'), this.opts.blockMs + (this.opts.watchdogSlackMs ?? WATCHDOG_SLACK_MS));
    });
    try {
      const reply = await Promise.race([this.readBlocking(), watchdog]);
      if (reply === 'stuck') {
        // Start the blocking connection afresh; the lost read delivered nothing we will not see
        // again (an entry it did deliver stays pending and is reclaimed).
        this.blocking.disconnect(true);
        return null;
      }
      return reply;
    } catch (err) {
      if (String((err as Error).message).includes('NOGROUP')) {
        await this.ensureGroup();
        return null;
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Take over one task delivered to a consumer that has held it longer than `minIdleMs` (it died,
   * or lost its connection for good). Returns it with its delivery count, which becomes the attempt.
   */
  async claimStale(minIdleMs: number): Promise<StreamTask | null> {
    let reply: [Buffer, [Buffer, Buffer[] | null][], Buffer[]?];
    try {
      reply = (await this.control.callBuffer('XAUTOCLAIM', this.opts.stream, this.opts.group, this.opts.consumer, minIdleMs, '0-0', 'COUNT', 1)) as [
        Buffer,
        [Buffer, Buffer[] | null][],
        Buffer[]?,
      ];
    } catch (err) {
      if (!String((err as Error).message).includes('NOGROUP')) throw err;
      // The stream was deleted (or Redis restarted empty): make the group again and go on.
      await this.ensureGroup();
      return null;
    }
    const entry = reply?.[1]?.[0];
    if (!entry || !entry[1]) return null;
    const entryId = entry[0].toString();
    const fields = entry[1];
    const pending = (await this.control.xpending(this.opts.stream, this.opts.group, entryId, entryId, 1)) as [string, string, number, number][];
    return { entryId, raw: fieldOf(fields, TASK_FIELD), deliveries: pending[0]?.[3] ?? 2, fields };
  }

  private async readBlocking(): Promise<StreamTask | null> {
    const reply = (await this.blocking.callBuffer(
      'XREADGROUP',
      'GROUP',
      this.opts.group,
      this.opts.consumer,
      'COUNT',
      1,
      'BLOCK',
      this.opts.blockMs,
      'STREAMS',
      this.opts.stream,
      '>',
    )) as [Buffer, [Buffer, Buffer[]][]][] | null;
    const entry = reply?.[0]?.[1]?.[0];
    if (!entry) return null;
    const fields = entry[1];
    return { entryId: entry[0].toString(), raw: fieldOf(fields, TASK_FIELD), deliveries: 1, fields };
  }

  /**
   * New entries, up to `count`, without blocking (a session's holder looks at the task stream
   * between cells, for cells of its own session).
   */
  async readNew(count: number): Promise<StreamTask[]> {
    const reply = (await this.blocking.callBuffer('XREADGROUP', 'GROUP', this.opts.group, this.opts.consumer, 'COUNT', count, 'STREAMS', this.opts.stream, '>')) as [Buffer, [Buffer, Buffer[]][]][] | null;
    return (reply?.[0]?.[1] ?? []).map(([id, fields]) => ({ entryId: id.toString(), raw: fieldOf(fields, TASK_FIELD), deliveries: 1, fields }));
  }

  /**
   * Give back an entry this executor read but will not run (it holds a session): it goes to a
   * consumer no executor reads as, idle since long ago and with its delivery count as before, so
   * the next executor that looks for stale entries takes it at once, as attempt 1 again.
   */
  async handBack(entryId: string): Promise<void> {
    await this.control.xclaim(this.opts.stream, this.opts.group, HANDED_BACK_CONSUMER, 0, entryId, 'IDLE', HANDED_BACK_IDLE_MS, 'RETRYCOUNT', 0, 'JUSTID');
  }

  /**
   * Copy an entry that will never run to the dead-letter stream, with the reason. With
   * `withoutTask` (an entry refused for its size) the `task` field is left out and its size
   * recorded instead, as `taskBytes`.
   */
  async deadLetter(deadStream: string, task: StreamTask, reason: string, withoutTask = false): Promise<void> {
    const fields = withoutTask ? [...withoutField(task.fields, TASK_FIELD), 'taskBytes', String(task.raw?.length ?? 0)] : task.fields;
    await this.control.xadd(deadStream, '*', 'reason', reason, 'stream', this.opts.stream, 'entry', task.entryId, 'deliveries', String(task.deliveries), ...fields);
  }

  /** Leave the group on a clean exit: remove this consumer, only if it holds nothing pending. */
  async removeSelf(): Promise<boolean> {
    return (await this.removeIdle(0, this.opts.consumer, '')).length === 1;
  }

  /**
   * Remove the consumers of executors that are gone: nothing pending (a dead one's entries are
   * reclaimed first), no read tried for `minIdleMs`. Returns their names.
   */
  pruneDead(minIdleMs: number): Promise<string[]> {
    return this.removeIdle(minIdleMs, '', this.opts.consumer);
  }

  private async removeIdle(minIdleMs: number, only: string, except: string): Promise<string[]> {
    try {
      return (await this.control.eval(REMOVE_IDLE_CONSUMERS, 1, this.opts.stream, this.opts.group, String(minIdleMs), only, except)) as string[];
    } catch (err) {
      // No stream or no group: no consumer to remove.
      if (/NOGROUP|no such key/i.test(String((err as Error).message))) return [];
      throw err;
    }
  }

  async ack(entryId: string): Promise<void> {
    await this.control.xack(this.opts.stream, this.opts.group, entryId);
  }

  /**
   * End a blocked read now, as if it had timed out. CLIENT UNBLOCK is used rather than closing
   * the connection: a read cut off by a disconnect may already have been served by Redis, and
   * the entry it delivered would sit unseen in this consumer's pending list.
   */
  async interrupt(): Promise<void> {
    if (this.blockingClientId === undefined) return;
    await this.control.client('UNBLOCK', this.blockingClientId, 'TIMEOUT').catch(() => undefined);
  }

  private async refreshClientId(): Promise<void> {
    try {
      this.blockingClientId = Number(await this.blocking.client('ID'));
    } catch {
      this.blockingClientId = undefined;
    }
  }
}

/** Who holds the entries a session's holder gave back: no executor reads under this name. */
export const HANDED_BACK_CONSUMER = 'handed-back';
// Idle "since long ago": past any reclaim threshold at once.
const HANDED_BACK_IDLE_MS = 1e12;

function fieldOf(fields: Buffer[], name: string): Buffer | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.toString() === name) return fields[i + 1];
  return undefined;
}

function withoutField(fields: Buffer[], name: string): Buffer[] {
  return fields.filter((_, i) => fields[i - (i % 2)]!.toString() !== name);
}
