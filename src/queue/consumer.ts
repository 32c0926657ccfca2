// Reads tasks from the stream through the consumer group, one at a time, so that an executor
// never holds more tasks than the one it is running: what it did not take stays for the others.
import type { Redis } from 'ioredis';
import { TASK_FIELD } from '../protocol/keys.js';

export interface StreamTask {
  /** The stream entry id, used to acknowledge it. */
  entryId: string;
  /** The raw `task` field, or undefined when the entry has none. */
  raw: string | undefined;
  /** How many times this entry has been delivered (1 for a fresh read). */
  deliveries: number;
}

export interface ConsumerOptions {
  stream: string;
  group: string;
  consumer: string;
  blockMs: number;
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
    blocking.on('ready', () => void this.refreshClientId());
  }

  async start(): Promise<void> {
    await Promise.all([this.blocking.connect(), this.control.connect()]);
    await this.refreshClientId();
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

  /** Wait up to blockMs for one new task; null when none came or the read was interrupted. */
  async read(): Promise<StreamTask | null> {
    const reply = (await this.blocking.xreadgroup(
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
    )) as [string, [string, string[]][]][] | null;
    const entry = reply?.[0]?.[1]?.[0];
    if (!entry) return null;
    const [entryId, fields] = entry;
    return { entryId, raw: fieldOf(fields, TASK_FIELD), deliveries: 1 };
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

function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
