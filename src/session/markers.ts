// Sync markers in a kernel's stdout and stderr (docs/session-kernel.md): `\x1f<token>:<m>\x1f`.
// A scanner passes output through as it comes and takes out the markers of the current token,
// holding back only the tail of a chunk that could still be the start of one. Bytes that merely
// look like a marker (another token, a lone \x1f) are output like any other.
const US = 0x1f;
const TOKEN_HEX = 32;
// \x1f + token + ':' + at most 9 digits + \x1f
const MAX_MARKER = 1 + TOKEN_HEX + 1 + 9 + 1;

export type Scanned = { data: Buffer } | { marker: number };

export class MarkerScanner {
  private held: Buffer = Buffer.alloc(0);
  token = '';

  /** Output and markers of `chunk`, in order. */
  push(chunk: Buffer): Scanned[] {
    const buf = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = Buffer.alloc(0);
    const out: Scanned[] = [];
    let from = 0;
    let at = buf.indexOf(US, 0);
    while (at !== -1) {
      const m = this.match(buf, at);
      if (m === 'partial') {
        if (at > from) out.push({ data: buf.subarray(from, at) });
        this.held = Buffer.from(buf.subarray(at));
        return out;
      }
      if (m !== undefined) {
        if (at > from) out.push({ data: buf.subarray(from, at) });
        out.push({ marker: m.value });
        from = at + m.length;
      }
      at = buf.indexOf(US, m === undefined ? at + 1 : from);
    }
    if (from < buf.length) out.push({ data: buf.subarray(from) });
    return out;
  }

  /** The stream ended: whatever was held back is output. */
  end(): Scanned[] {
    const held = this.held;
    this.held = Buffer.alloc(0);
    return held.length ? [{ data: held }] : [];
  }

  // A marker of the current token at `at`; 'partial' when the buffer ends before that is known.
  private match(buf: Buffer, at: number): { value: number; length: number } | 'partial' | undefined {
    if (this.token === '') return undefined;
    const prefix = `\x1f${this.token}:`;
    const avail = buf.length - at;
    const cmp = Math.min(avail, prefix.length);
    if (buf.toString('latin1', at, at + cmp) !== prefix.slice(0, cmp)) return undefined;
    if (avail < prefix.length) return 'partial';
    let i = at + prefix.length;
    while (i < buf.length && i - at < MAX_MARKER && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
    if (i >= buf.length) return i - at < MAX_MARKER ? 'partial' : undefined;
    if (buf[i] !== US || i === at + prefix.length) return undefined;
    return { value: Number(buf.toString('latin1', at + prefix.length, i)), length: i + 1 - at };
  }
}
