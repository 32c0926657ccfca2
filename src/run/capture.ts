// The snippet's output: counted against the cap, coalesced, streamed, with backpressure on the
// pipes; with a display token, the display frames in stdout taken out and sent as displays in
// their place (docs/display.md). Attached before any await once the snippet runs: execa lets an unread pipe flow, and what
// a standby prints the moment it is handed its task would be lost.
import { OutputCoalescer, type OutputKind, type OutputSink } from '../output/coalescer.js';
import { DisplayFrames, type Framed } from '../output/display-frames.js';
import { displayCost, type DisplaySink, type Representation } from '../output/representations.js';
import { delay, withTimeout } from '../util/timeout.js';
import type { Snippet } from './spawn.js';

// Pause the snippet's pipes while this much output is on its way to Redis, so a flood is
// throttled instead of buffered whole in the daemon's memory.
const HIGH_WATER_BYTES = 8 * 1024 * 1024;
// After the first process exits and the rest are killed, the pipes close within moments; this
// bounds the wait should a pipe be held open by something outside the run's scope.
const PIPE_DRAIN_MS = 1000;
// The longest display frame looked for: a larger image is not one a run could send.
const MAX_FRAME_BYTES = 48 * 1024 * 1024;

export interface DisplayCapture {
  /** The run's display token (the frames' prefix). */
  token: string;
  sink: DisplaySink;
}

export class OutputCapture {
  readonly counts = { stdout: 0, stderr: 0 };
  truncated = false;
  /** What the displays cost toward the cap (see displayCost). */
  private displayBytes = 0;
  private displays = 0;
  private readonly sent: Promise<unknown>[] = [];
  private readonly pipes: [Snippet['stdout'], Snippet['stderr']];
  private readonly coalescer: OutputCoalescer;
  private readonly pipesClosed: Promise<unknown>;

  /** `onCap` is called when the output reaches `capBytes` (the rest is discarded). */
  constructor(
    private readonly child: Snippet,
    sink: OutputSink,
    private readonly capBytes: number,
    private readonly onCap: () => void,
    private readonly display?: DisplayCapture,
  ) {
    this.pipes = [child.stdout, child.stderr];
    this.coalescer = new OutputCoalescer(sink, { onDrained: () => this.pipes.forEach((p) => p?.resume()) });
    // Base64 makes an image a third larger than what it costs toward the cap.
    const frames = display && new DisplayFrames(display.token, Math.min(MAX_FRAME_BYTES, Math.ceil((capBytes * 4) / 3) + 4096));
    if (frames) {
      child.stdout?.on('data', (chunk: Buffer) => this.framed(frames.push(chunk)));
      child.stdout?.once('end', () => this.framed(frames.end()));
    } else {
      child.stdout?.on('data', (chunk: Buffer) => this.take('stdout', chunk));
    }
    child.stderr?.on('data', (chunk: Buffer) => this.take('stderr', chunk));
    this.pipesClosed = Promise.all(this.pipes.map((p) => (p ? new Promise<void>((resolve) => p.once('close', () => resolve())) : undefined)));
  }

  /** Once every process of the run is dead: let the pipes drain (bounded), then close them. */
  async close(): Promise<void> {
    await Promise.race([this.pipesClosed, delay(PIPE_DRAIN_MS)]);
    this.pipes.forEach((p) => p?.destroy());
    await this.child;
  }

  /**
   * Wait for the output to be delivered. Output sent while Redis is away waits in the client's
   * queue and goes out in order once it is back; if it is not back in time, the run is reported
   * failed rather than silently cut. Returns why it was not delivered.
   */
  async deliver(timeoutMs: number): Promise<string | undefined> {
    const delivered = this.coalescer.drain().then(() => Promise.all(this.sent));
    return withTimeout(delivered, timeoutMs, 'Redis did not take the output in time').then(
      () => undefined,
      (err: Error) => err.message,
    );
  }

  private framed(items: Framed[]): void {
    for (const item of items) {
      if ('data' in item) this.take('stdout', item.data);
      else this.show(item.display);
    }
  }

  private show(reps: Representation[]): void {
    if (this.truncated) return;
    const cost = reps.reduce((n, r) => n + displayCost(r), 0);
    if (cost > this.room()) {
      this.truncated = true;
      this.onCap();
      return;
    }
    this.displayBytes += cost;
    const k = ++this.displays;
    // What was printed before the display goes out first.
    this.coalescer.flush();
    for (const r of reps) {
      const sent = this.display!.sink(k, r.mime, r.data);
      // Its failure is reported by deliver(); until then it must not count as unhandled.
      sent.catch(() => undefined);
      this.sent.push(sent);
    }
  }

  private room(): number {
    return this.capBytes - this.counts.stdout - this.counts.stderr - this.displayBytes;
  }

  private take(kind: OutputKind, chunk: Buffer): void {
    if (this.truncated) return;
    const room = this.room();
    if (chunk.length > room) {
      chunk = chunk.subarray(0, room);
      this.truncated = true;
    }
    this.counts[kind] += chunk.length;
    this.coalescer.push(kind, chunk);
    if (this.truncated) this.onCap();
    else if (this.coalescer.inFlightBytes > HIGH_WATER_BYTES) this.pipes.forEach((p) => p?.pause());
  }
}
