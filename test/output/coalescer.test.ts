import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OutputCoalescer, type OutputKind } from '../../src/output/coalescer.js';

// Pure timer logic: fake timers are right here.
describe('OutputCoalescer', () => {
  let sent: [OutputKind, string][];
  const sink = async (kind: OutputKind, data: Buffer) => {
    sent.push([kind, data.toString()]);
  };
  beforeEach(() => {
    sent = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it('sends output at once when nothing is in flight', () => {
    const c = new OutputCoalescer(sink, { maxDelayMs: 50 });
    c.push('stdout', Buffer.from('first'));
    expect(sent).toEqual([['stdout', 'first']]);
  });

  it('coalesces writes that follow while a write is in flight, sending them within maxDelayMs', () => {
    const seen: string[] = [];
    const spy = new OutputCoalescer(async (_, d) => void seen.push(d.toString()), { maxDelayMs: 50 });
    spy.push('stdout', Buffer.from('a'));
    expect(spy.inFlightBytes).toBe(1);
    spy.push('stdout', Buffer.from('b'));
    spy.push('stdout', Buffer.from('c'));
    vi.advanceTimersByTime(49);
    expect(seen).toEqual(['a']);
    vi.advanceTimersByTime(1);
    expect(seen).toEqual(['a', 'bc']);
  });

  it('does not restart the delay on every write', () => {
    const c = new OutputCoalescer(sink, { maxDelayMs: 50 });
    for (let i = 0; i < 10; i++) {
      c.push('stdout', Buffer.from(String(i)));
      vi.advanceTimersByTime(10);
    }
    expect(sent[0]).toEqual(['stdout', '0']);
    expect(sent[1]).toEqual(['stdout', '12345']);
  });

  it('keeps order across stdout and stderr by never mixing them in one chunk', () => {
    const c = new OutputCoalescer(sink);
    c.push('stdout', Buffer.from('0'));
    c.push('stdout', Buffer.from('1'));
    c.push('stderr', Buffer.from('2'));
    c.push('stdout', Buffer.from('3'));
    c.flush();
    expect(sent).toEqual([
      ['stdout', '0'],
      ['stdout', '1'],
      ['stderr', '2'],
      ['stdout', '3'],
    ]);
  });

  it('sends at once when a chunk reaches maxChunkBytes, even while a write is in flight', () => {
    const c = new OutputCoalescer(sink, { maxChunkBytes: 4 });
    c.push('stdout', Buffer.from('x'));
    c.push('stdout', Buffer.from('abcd'));
    expect(sent).toEqual([
      ['stdout', 'x'],
      ['stdout', 'abcd'],
    ]);
  });

  it('counts bytes in flight until the sink settles, then reports drained', async () => {
    let release!: () => void;
    const drained = vi.fn();
    const c = new OutputCoalescer(() => new Promise<void>((r) => (release = r)), { onDrained: drained });
    c.push('stdout', Buffer.from('hello'));
    c.flush();
    expect(c.inFlightBytes).toBe(5);
    release();
    await c.drain();
    expect(c.inFlightBytes).toBe(0);
    expect(drained).toHaveBeenCalledOnce();
  });

  it('drain() rejects with the first sink failure', async () => {
    const c = new OutputCoalescer(async () => {
      throw new Error('redis down');
    });
    c.push('stderr', Buffer.from('x'));
    await expect(c.drain()).rejects.toThrow('redis down');
  });
});
