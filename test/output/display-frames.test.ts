// The display frames of a plain run's stdout (docs/display.md), as pure logic: taken out in their
// place however the pipe splits them, and everything that is not a well-formed frame of the run's
// token passed through byte for byte.
import { describe, expect, it } from 'vitest';
import { DisplayFrames, type Framed } from '../../src/output/display-frames.js';

const TOKEN = 'a'.repeat(32);
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const frame = (body: string, token = TOKEN) => `\x1f${token}:display ${body}\x1f`;

/** What the scanner makes of `chunks`, as text: output as is, each display as [mime=data,...]. */
function scan(chunks: (string | Buffer)[], max = 1 << 20): string {
  const s = new DisplayFrames(TOKEN, max);
  const items: Framed[] = [...chunks.flatMap((c) => s.push(Buffer.from(c))), ...s.end()];
  return items.map((i) => ('data' in i ? i.data.toString('latin1') : `[${i.display.map((r) => `${r.mime}=${r.data.toString()}`).join(',')}]`)).join('');
}

describe('display frames', () => {
  it('takes a frame out in its place, with every representation', () => {
    expect(scan([`before\n${frame(`image/png ${b64('PNG')} text/plain ${b64('<Figure>')}`)}after\n`])).toBe('before\n[image/png=PNG,text/plain=<Figure>]after\n');
  });

  it('finds frames split anywhere across chunks, one byte at a time too', () => {
    const text = `x${frame(`text/plain ${b64('one')}`)}y${frame(`text/html ${b64('<b>2</b>')}`)}z`;
    const expected = 'x[text/plain=one]y[text/html=<b>2</b>]z';
    for (let cut = 0; cut <= text.length; cut++) expect(scan([text.slice(0, cut), text.slice(cut)])).toBe(expected);
    expect(scan([...text])).toBe(expected);
  });

  it('passes through what only looks like a frame: another token, malformed bodies, lone separators', () => {
    const others = [
      frame(`text/plain ${b64('x')}`, 'b'.repeat(32)),
      frame('text/plain'),
      frame(`text/plain ${b64('x')} image/png`),
      frame('Text/Plain eA=='),
      frame('text/plain not*base64'),
      frame(''),
      '\x1f\x1f plain \x1f',
    ];
    for (const o of others) expect(scan([`a${o}b`])).toBe(`a${o}b`);
  });

  it('passes a frame longer than the longest it looks for through as output, and goes on finding the next', () => {
    const long = frame(`text/plain ${b64('y'.repeat(300))}`);
    const ok = frame(`text/plain ${b64('ok')}`);
    expect(scan([`${long}${ok}`], 200)).toBe(`${long}[text/plain=ok]`);
    // The same, arriving in small chunks: held only up to the limit, then let go.
    const text = `${long}${ok}`;
    const chunks = text.match(/[\s\S]{1,16}/g)!;
    expect(scan(chunks, 200)).toBe(`${long}[text/plain=ok]`);
  });

  it('outputs an unfinished frame when the stream ends', () => {
    const cut = frame(`text/plain ${b64('x')}`).slice(0, -1);
    expect(scan(['a', cut])).toBe(`a${cut}`);
    expect(scan(['a', '\x1faaa'])).toBe('a\x1faaa');
  });

  it('keeps binary output intact around frames', () => {
    const bin = Buffer.from([0, 0x1f, 0xff, 0x1f, 0x80]);
    const s = new DisplayFrames(TOKEN, 1 << 20);
    const items = [...s.push(Buffer.concat([bin, Buffer.from(frame(`image/png ${b64(bin)}`)), bin])), ...s.end()];
    const data = Buffer.concat(items.flatMap((i) => ('data' in i ? [i.data] : [])));
    expect(data.equals(Buffer.concat([bin, bin]))).toBe(true);
    expect(items.flatMap((i) => ('display' in i ? i.display : [])).map((r) => r.data.equals(bin))).toEqual([true]);
  });
});
