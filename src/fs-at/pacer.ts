// Lets a long synchronous walk (see dir.ts) give the event loop a turn every few milliseconds, so
// output, Redis replies and health checks are not held up behind a snippet's huge tree.
const SLICE_MS = 10;

export class Pacer {
  private since = performance.now();

  /** Resolves at once, or after a turn of the event loop when this slice is used up. */
  async tick(): Promise<void> {
    if (performance.now() - this.since < SLICE_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.since = performance.now();
  }
}
