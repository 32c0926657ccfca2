// Streams a run's output to a sink in order, coalescing small writes into chunks, but never
// holding bytes back longer than `maxDelayMs`. Output that arrives while nothing is on its way to
// the sink goes out at once (the first byte of a run is not delayed); while a write is in flight,
// what follows is batched. A chunk never mixes stdout and stderr: when the
// stream changes, what is buffered is sent first, so the order across both streams is kept.
// Sink calls are pipelined (not awaited one by one); `inFlightBytes` lets the caller apply
// backpressure to the producer.

export type OutputKind = 'stdout' | 'stderr';
export type OutputSink = (kind: OutputKind, data: Buffer) => Promise<unknown>;

export interface CoalescerOptions {
  maxDelayMs?: number;
  maxChunkBytes?: number;
  /** Called whenever in-flight bytes drop to zero after a sink call settles. */
  onDrained?: () => void;
}

export class OutputCoalescer {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private bufferedKind: OutputKind | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private pending: Promise<unknown>[] = [];
  private failure: unknown;
  private readonly maxDelayMs: number;
  private readonly maxChunkBytes: number;

  constructor(
    private readonly sink: OutputSink,
    private readonly options: CoalescerOptions = {},
  ) {
    this.maxDelayMs = options.maxDelayMs ?? 50;
    this.maxChunkBytes = options.maxChunkBytes ?? 1024 * 1024;
  }

  push(kind: OutputKind, data: Buffer): void {
    if (data.length === 0) return;
    if (this.bufferedKind !== undefined && this.bufferedKind !== kind) this.flush();
    this.bufferedKind = kind;
    this.buffered.push(data);
    this.bufferedBytes += data.length;
    if (this.bufferedBytes >= this.maxChunkBytes || (this.inFlight === 0 && this.timer === undefined)) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.maxDelayMs);
  }

  /** Send what is buffered now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.bufferedKind === undefined || this.bufferedBytes === 0) return;
    // A single buffered chunk goes out as it is: copying costs more than the send (page faults).
    const data = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bufferedBytes);
    const kind = this.bufferedKind;
    this.buffered = [];
    this.bufferedBytes = 0;
    this.bufferedKind = undefined;
    this.inFlight += data.length;
    const sent = this.sink(kind, data).then(
      () => this.settle(data.length),
      (err: unknown) => {
        this.failure ??= err;
        this.settle(data.length);
      },
    );
    this.pending.push(sent);
  }

  get inFlightBytes(): number {
    return this.inFlight;
  }

  /** Flush and wait for every sink call; rejects with the first sink failure, if any. */
  async drain(): Promise<void> {
    this.flush();
    const pending = this.pending;
    this.pending = [];
    await Promise.all(pending);
    if (this.failure !== undefined) throw this.failure;
  }

  private settle(bytes: number): void {
    this.inFlight -= bytes;
    if (this.inFlight === 0) {
      this.pending = [];
      this.options.onDrained?.();
    }
  }
}
