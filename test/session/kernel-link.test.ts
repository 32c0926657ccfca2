// The executor's end of a kernel, as pure stream logic: markers taken out of output split at any
// byte, each event emitted exactly where its marker was whether the event or the marker comes
// first, `done` only after both streams reached it, nothing forged on fd 3 able to throw, and a
// `done` whose markers never come (fd 1 closed by the snippet) still ending the cell.
import { Duplex, PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { KernelLink, type KernelEvent } from '../../src/session/kernel-link.js';
import { MarkerScanner } from '../../src/session/markers.js';

const TOKEN = 'ab'.repeat(16);
const mark = (m: number) => `\x1f${TOKEN}:${m}\x1f`;

function harness() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const toKernel: Buffer[] = [];
  const channel = new Duplex({ read() {}, write(chunk, _enc, cb) { toKernel.push(chunk as Buffer); cb(); } });
  const events: string[] = [];
  const link = new KernelLink({ stdout, stderr, channel }, (e: KernelEvent) => events.push(e.kind === 'output' ? `${e.stream}:${e.data}` : e.kind === 'display' ? `display:${e.display}:${e.data}` : `done:${e.status}`));
  channel.push('ready\n');
  // The token the link chose, from the header it wrote.
  const token = () => Buffer.concat(toKernel).toString().split(' ')[2]!;
  return { stdout, stderr, channel, events, link, token };
}

describe('MarkerScanner', () => {
  it('takes a marker out wherever the chunks split it, and passes look-alikes through', () => {
    const text = `before${mark(1)}after\x1fnot:a marker\x1f${mark(22)}`;
    for (let cut = 0; cut <= text.length; cut++) {
      const s = new MarkerScanner();
      s.token = TOKEN;
      const parts = [...s.push(Buffer.from(text.slice(0, cut))), ...s.push(Buffer.from(text.slice(cut))), ...s.end()];
      const data = parts.filter((p) => 'data' in p).map((p) => (p as { data: Buffer }).data.toString()).join('');
      expect(data).toBe('beforeafter\x1fnot:a marker\x1f');
      expect(parts.filter((p) => 'marker' in p).map((p) => (p as { marker: number }).marker)).toEqual([1, 22]);
    }
  });
});

describe('KernelLink', () => {
  it('emits a display where its marker was, whether the event or the marker arrives first', async () => {
    const h = harness();
    await h.link.ready;
    const done = h.link.run({ cell: 1, code: 'x' });
    const t = h.token();
    const m = (n: number) => `\x1f${t}:${n}\x1f`;
    h.stdout.write(`a\n${m(1)}b\n`);
    await new Promise((r) => setImmediate(r));
    h.channel.push(`display 1 1 1 text/html ${Buffer.from('<b>42</b>').toString('base64')} text/plain ${Buffer.from('42').toString('base64')}\n`);
    h.channel.push(`display 1 2 2 text/plain ${Buffer.from('43').toString('base64')}\n`);
    h.channel.push('done 1 ok 3\n');
    await new Promise((r) => setImmediate(r));
    h.stdout.write(`c\n${m(2)}d\n${m(3)}`);
    h.stderr.write(`e\n${m(3)}`);
    expect(await done).toBe('ok');
    expect(h.events).toEqual(['stdout:a\n', 'display:1:<b>42</b>', 'display:1:42', 'stdout:b\n', 'stdout:c\n', 'display:2:43', 'stdout:d\n', 'stderr:e\n', 'done:ok']);
  });

  it('ignores lines a snippet forges on fd 3, and ends a cell whose markers never come', async () => {
    const h = harness();
    await h.link.ready;
    const done = h.link.run({ cell: 1, code: 'x' });
    h.channel.push('done 1 bogus 1\ndisplay 1 x 1 text/plain AAAA\ndisplay 9 1 1 text/plain AAAA\n\x00\x01\nready extra\n');
    h.channel.push('done 1 error 5\n');
    const started = Date.now();
    expect(await done).toBe('error');
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(h.events).toEqual(['done:error']);
  });

  it('rejects the running cell when the kernel closes its channel', async () => {
    const h = harness();
    await h.link.ready;
    const done = h.link.run({ cell: 1, code: 'x' });
    h.channel.destroy();
    await expect(done).rejects.toThrow(/closed its channel/);
  });
});
