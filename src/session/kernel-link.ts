// The executor's end of one session kernel (docs/session-kernel.md): cells go out on fd 3, the
// kernel's events come back there, and its stdout and stderr are read all session long with the
// sync markers taken out, so that each event is emitted after exactly the output that preceded it.
// Nothing the kernel says is trusted: a snippet can write to fd 3 too. Malformed lines are ignored,
// an overlong one is dropped, and a `done` whose markers never come (the snippet closed fd 1, say)
// is taken after a short wait rather than never.
import { randomBytes } from 'node:crypto';
import type { Duplex, Readable } from 'node:stream';
import { parseRepresentations } from '../output/representations.js';
import { MarkerScanner, type Scanned } from './markers.js';

export type CellStatus = 'ok' | 'error' | 'interrupted';

export type KernelEvent =
  | { kind: 'output'; stream: 'stdout' | 'stderr'; data: Buffer }
  | { kind: 'display'; cell: number; display: number; mime: string; data: Buffer }
  | { kind: 'done'; cell: number; status: CellStatus };

// A display may be an image of several MiB; base64 makes it a third larger.
const MAX_LINE_BYTES = 48 * 1024 * 1024;
// How long a `done` waits for its markers before it is taken anyway.
const MARKER_WAIT_MS = 500;
// Output held behind one marker before the marker is let go (a snippet can write markers of its
// own: they must not make the daemon buffer its output).
const MAX_HELD_BYTES = 1024 * 1024;
// Events waiting for their markers; a snippet forging lines on fd 3 gets no more.
const MAX_PENDING = 1000;
const STATUSES = new Set<string>(['ok', 'error', 'interrupted']);

interface Pending {
  /** The marker it is positioned at, on stdout (and, for done, on stderr too). */
  m: number;
  both: boolean;
  event: KernelEvent;
  at: number;
}

type Item = { data: Buffer } | { marker: number; at: number };
type Stream = 'stdout' | 'stderr';

export class KernelLink {
  readonly ready: Promise<void>;
  readonly closed: Promise<void>;
  private readonly scanners = { stdout: new MarkerScanner(), stderr: new MarkerScanner() };
  // What each stream said, in order, not yet passed on: output is held behind a marker whose
  // event has not been emitted yet, so an event always comes out right where its marker was.
  private readonly items: Record<Stream, Item[]> = { stdout: [], stderr: [] };
  private readonly ended = { stdout: false, stderr: false };
  private readonly held = { stdout: 0, stderr: 0 };
  private pending: Pending[] = [];
  private cell: { n: number; resolve: (s: CellStatus) => void; reject: (e: Error) => void } | undefined;
  private onReady: () => void = () => undefined;
  private line: Buffer[] = [];
  private lineBytes = 0;
  private dropping = false;
  private isClosed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly io: { stdout: Readable; stderr: Readable; channel: Duplex },
    private readonly onEvent: (e: KernelEvent) => void,
  ) {
    let failReady: (e: Error) => void = () => undefined;
    this.ready = new Promise((resolve, reject) => {
      this.onReady = resolve;
      failReady = reject;
    });
    this.ready.catch(() => undefined);
    for (const stream of ['stdout', 'stderr'] as const) {
      io[stream].on('data', (chunk: Buffer) => this.take(stream, this.scanners[stream].push(chunk)));
      io[stream].once('end', () => {
        this.take(stream, this.scanners[stream].end());
        this.ended[stream] = true;
        this.pump();
      });
      io[stream].on('error', () => undefined);
    }
    io.channel.on('data', (chunk: Buffer) => this.lines(chunk));
    io.channel.on('error', () => undefined);
    this.closed = new Promise((resolve) => io.channel.once('close', () => resolve()));
    void this.closed.then(() => {
      this.isClosed = true;
      const err = new Error('the kernel closed its channel');
      failReady(err);
      this.cell?.reject(err);
      this.cell = undefined;
    });
  }

  /** Run one cell; resolves once the kernel is done with it and its output is all out. */
  run(c: { cell: number; code: string; stdin?: string }): Promise<CellStatus> {
    if (this.isClosed) return Promise.reject(new Error('the kernel closed its channel'));
    const token = randomBytes(16).toString('hex');
    this.scanners.stdout.token = token;
    this.scanners.stderr.token = token;
    this.pending = [];
    const code = Buffer.from(c.code);
    const stdin = Buffer.from(c.stdin ?? '');
    return new Promise((resolve, reject) => {
      this.cell = { n: c.cell, resolve, reject };
      this.io.channel.write(Buffer.concat([Buffer.from(`cell ${c.cell} ${token} ${code.length} ${stdin.length}\n`), code, stdin]));
    });
  }

  close(): void {
    this.io.channel.end();
  }

  private take(stream: Stream, parts: Scanned[]): void {
    for (const p of parts) {
      if ('data' in p) this.held[stream] += p.data.length;
      this.items[stream].push('data' in p ? p : { marker: p.marker, at: Date.now() });
    }
    this.pump();
  }

  // Passes on output up to the first marker of each stream, and an event once every marker it is
  // positioned at heads its stream; a marker whose event never comes (or an event whose marker
  // never does: the snippet closed fd 1) stops holding anything back after MARKER_WAIT_MS.
  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (;;) {
      this.flushData('stdout');
      this.flushData('stderr');
      const next = this.pending[0];
      const now = Date.now();
      if (next) {
        const at = (s: Stream) => this.ended[s] || this.headMarker(s) === next.m;
        if ((at('stdout') && (!next.both || at('stderr'))) || now - next.at >= MARKER_WAIT_MS) {
          this.pending.shift();
          for (const s of ['stdout', 'stderr'] as const) if (this.headMarker(s) === next.m && (s === 'stdout' || next.both)) this.items[s].shift();
          this.emit(next.event);
          // The other representations of the same object, at the same place.
          while (this.pending[0]?.m === next.m && this.pending[0].event.kind === 'display') this.emit(this.pending.shift()!.event);
          continue;
        }
      }
      // A marker no event is waiting for (its event is late, or never comes), or one that holds
      // back too much output.
      let dropped = false;
      for (const s of ['stdout', 'stderr'] as const) {
        const head = this.items[s][0];
        if (head && 'marker' in head && ((!this.pending.some((p) => p.m === head.marker) && now - head.at >= MARKER_WAIT_MS) || this.held[s] > MAX_HELD_BYTES)) {
          this.items[s].shift();
          dropped = true;
        }
      }
      if (dropped) continue;
      break;
    }
    if (this.pending.length > 0 || this.items.stdout.length > 0 || this.items.stderr.length > 0) this.timer = setTimeout(() => this.pump(), MARKER_WAIT_MS);
  }

  private flushData(s: Stream): void {
    const items = this.items[s];
    while (items.length > 0 && 'data' in items[0]!) {
      const { data } = items.shift() as { data: Buffer };
      this.held[s] -= data.length;
      this.onEvent({ kind: 'output', stream: s, data });
    }
  }

  private headMarker(s: Stream): number | undefined {
    const head = this.items[s][0];
    return head && 'marker' in head ? head.marker : undefined;
  }

  private emit(event: KernelEvent): void {
    this.onEvent(event);
    if (event.kind === 'done' && this.cell?.n === event.cell) {
      const { resolve } = this.cell;
      this.cell = undefined;
      resolve(event.status);
    }
  }

  private lines(chunk: Buffer): void {
    let from = 0;
    for (let nl = chunk.indexOf(10, from); nl !== -1; nl = chunk.indexOf(10, from)) {
      this.part(chunk.subarray(from, nl));
      if (!this.dropping) this.handle(Buffer.concat(this.line).toString());
      this.line = [];
      this.lineBytes = 0;
      this.dropping = false;
      from = nl + 1;
    }
    if (from < chunk.length) this.part(chunk.subarray(from));
  }

  private part(b: Buffer): void {
    if (this.dropping) return;
    this.lineBytes += b.length;
    if (this.lineBytes > MAX_LINE_BYTES) {
      this.dropping = true;
      this.line = [];
      return;
    }
    this.line.push(Buffer.from(b));
  }

  private handle(line: string): void {
    const w = line.split(' ');
    if (w[0] === 'ready' && w.length === 1) return this.onReady();
    const cell = this.cell?.n;
    if (w[0] === 'display' && w.length >= 6 && Number(w[1]) === cell) {
      // One line per object, every representation on it: all of them come out where its marker was.
      const [k, m] = [Number(w[2]), Number(w[3])];
      const reps = parseRepresentations(w.slice(4));
      if (!Number.isInteger(k) || k < 1 || !Number.isInteger(m) || !reps || this.pending.length >= MAX_PENDING) return;
      for (const r of reps) this.pending.push({ m, both: false, at: Date.now(), event: { kind: 'display', cell, display: k, mime: r.mime, data: r.data } });
      this.pump();
    } else if (w[0] === 'done' && w.length === 4 && Number(w[1]) === cell && STATUSES.has(w[2]!)) {
      this.queue({ m: Number(w[3]) || 0, both: true, at: Date.now(), event: { kind: 'done', cell, status: w[2] as CellStatus } });
    }
  }

  private queue(p: Pending): void {
    this.pending.push(p);
    this.pump();
  }
}
