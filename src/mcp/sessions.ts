// The sessions this server opened or was told of: their handles (later cells take the direct
// route), at most `max` open at a time (each holds a whole executor until it ends), all closed when
// the server stops — an agent that forgets one must not keep an executor from the fleet.
import type { ExecutorClient } from '../client/client.js';
import type { SessionHandle } from '../client/session.js';

export interface KnownSession {
  handle: SessionHandle;
  runtime: string;
}

export class SessionRegistry {
  private readonly known = new Map<string, KnownSession>();

  constructor(
    private readonly client: ExecutorClient,
    readonly max: number,
  ) {}

  get(id: string): KnownSession | undefined {
    return this.known.get(id);
  }

  /** The ids of the sessions this server holds open. */
  ids(): string[] {
    return [...this.known.keys()];
  }

  /** A new session's handle, or undefined when `max` are open already. */
  open(options: Parameters<ExecutorClient['session']>[0]): KnownSession | undefined {
    if (this.known.size >= this.max) return undefined;
    const s = { handle: this.client.session(options), runtime: options.runtime };
    this.known.set(s.handle.id, s);
    return s;
  }

  /** A session opened elsewhere, continued here (it counts toward `max` too). */
  resume(id: string, runtime: string): KnownSession | undefined {
    if (this.known.size >= this.max) return undefined;
    const s = { handle: this.client.session({ id, runtime, resume: true }), runtime };
    this.known.set(id, s);
    return s;
  }

  /** Forget a session that has ended (or never opened). */
  forget(id: string): void {
    this.known.delete(id);
  }

  /** Close every session still held (the server is stopping); best effort. */
  async closeAll(): Promise<void> {
    const ids = this.ids();
    this.known.clear();
    await Promise.all(ids.map((id) => this.client.closeSession(id).catch(() => undefined)));
  }
}
