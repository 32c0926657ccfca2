// Display frames in a plain run's stdout (docs/display.md): `\x1f<token>:display <mime> <base64>
// [<mime> <base64>]...\x1f`, written by a display backend the runtime profile names. A scanner
// passes the output through as it comes and takes out each well-formed frame of the run's token,
// so a display keeps its exact place among what the snippet printed. Anything else — another
// token, a malformed frame, one longer than the run could ever be sent — is output like any other
// bytes: nothing the snippet writes disappears.
import { parseRepresentations, type Representation } from './representations.js';

const US = 0x1f;

export type Framed = { data: Buffer } | { display: Representation[] };

export class DisplayFrames {
  private readonly prefix: Buffer;
  // A frame begun and not yet ended (its prefix complete), or the start of a chunk's tail that
  // could still become one.
  private held: Buffer[] = [];
  private heldBytes = 0;
  private inFrame = false;

  constructor(
    token: string,
    private readonly maxFrameBytes: number,
  ) {
    this.prefix = Buffer.from(`\x1f${token}:display `, 'latin1');
  }

  /** Output and displays of `chunk`, in order. */
  push(chunk: Buffer): Framed[] {
    const out: Framed[] = [];
    let buf = chunk;
    if (this.inFrame) {
      const end = buf.indexOf(US);
      if (end === -1) {
        this.hold(buf);
        if (this.heldBytes > this.maxFrameBytes) this.release(out);
        return out;
      }
      this.hold(buf.subarray(0, end + 1));
      const frame = this.take();
      this.inFrame = false;
      this.emitFrame(frame, out);
      buf = buf.subarray(end + 1);
    } else if (this.heldBytes > 0) {
      buf = Buffer.concat([this.take(), buf]);
    }
    this.scan(buf, out);
    return out;
  }

  /** The stream ended: whatever was held back is output. */
  end(): Framed[] {
    const out: Framed[] = [];
    this.release(out);
    return out;
  }

  private scan(buf: Buffer, out: Framed[]): void {
    let from = 0;
    let at = buf.indexOf(US);
    while (at !== -1) {
      const avail = buf.length - at;
      const n = Math.min(avail, this.prefix.length);
      if (buf.compare(this.prefix, 0, n, at, at + n) !== 0) {
        at = buf.indexOf(US, at + 1);
        continue;
      }
      if (at > from) out.push({ data: buf.subarray(from, at) });
      if (avail < this.prefix.length) {
        // Maybe a frame's start: wait for the next chunk to tell.
        this.hold(Buffer.from(buf.subarray(at)));
        return;
      }
      const end = buf.indexOf(US, at + this.prefix.length);
      if (end === -1) {
        this.inFrame = true;
        this.hold(Buffer.from(buf.subarray(at)));
        if (this.heldBytes > this.maxFrameBytes) this.release(out);
        return;
      }
      this.emitFrame(buf.subarray(at, end + 1), out);
      from = end + 1;
      at = buf.indexOf(US, from);
    }
    if (from < buf.length) out.push({ data: buf.subarray(from) });
  }

  // A complete frame (prefix to closing \x1f): its display, or its bytes as output.
  private emitFrame(frame: Buffer, out: Framed[]): void {
    const reps = frame.length <= this.maxFrameBytes ? parseRepresentations(frame.toString('latin1', this.prefix.length, frame.length - 1).split(' ')) : undefined;
    out.push(reps ? { display: reps } : { data: frame });
  }

  // What is held goes out as output; in a frame too long to be one, the scan goes on after it
  // (nothing in a frame's body can start another: it has no \x1f).
  private release(out: Framed[]): void {
    this.inFrame = false;
    if (this.heldBytes > 0) out.push({ data: this.take() });
  }

  private hold(b: Buffer): void {
    this.held.push(b);
    this.heldBytes += b.length;
  }

  private take(): Buffer {
    const b = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.heldBytes);
    this.held = [];
    this.heldBytes = 0;
    return b;
  }
}
