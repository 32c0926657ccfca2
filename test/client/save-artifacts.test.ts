// The client's artifact saver trusts no path from the executor: whatever OS the client runs on,
// nothing may land outside the folder it was given.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { artifactSaver } from '../../src/client/save-artifacts.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function saveInto(p: string): { dir: string; save: () => void } {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'saver-'));
  dirs.push(parent);
  const dir = path.join(parent, 'out');
  const saver = artifactSaver(dir);
  return { dir, save: () => saver({ type: 'file', path: p, data: Buffer.from('x'), part: 1, parts: 1 }) };
}

describe('artifactSaver', () => {
  it.each([
    ['..\\..\\x', /backslash/],
    ['a\\b', /backslash/],
    ['C:x', /drive letter/],
    ['c:/Windows/x', /drive letter/],
    ['.. /x', /dot or a space/],
    ['.../x', /dot or a space/],
    ['a/b.', /dot or a space/],
    ['../x', /plain relative/],
    ['/etc/x', /plain relative/],
  ])('refuses %j on every OS', (p, why) => {
    const { dir, save } = saveInto(p);
    expect(save).toThrow(why);
    expect(fs.existsSync(path.dirname(dir)) && fs.readdirSync(path.dirname(dir))).toEqual([]);
  });

  it('writes plain relative paths, a colon and dots inside names included', () => {
    for (const p of ['table.csv', 'plots/a.b.png', 'run 10:00.log', '.hidden']) {
      const { dir, save } = saveInto(p);
      save();
      expect(fs.readFileSync(path.join(dir, p), 'utf8')).toBe('x');
    }
  });
});

describe('artifactSaver with onRefused', () => {
  it('skips a refused name and says so, instead of throwing', () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'saver-'));
    const refused: string[] = [];
    const save = artifactSaver(path.join(parent, 'out'), (err) => refused.push(err.message));
    save({ type: 'file', path: 'z\\evil', data: Buffer.from('x'), part: 1, parts: 1 });
    save({ type: 'file', path: 'ok.txt', data: Buffer.from('fine'), part: 1, parts: 1 });
    expect(refused).toEqual([expect.stringMatching(/backslash/)]);
    expect(fs.readdirSync(path.join(parent, 'out'))).toEqual(['ok.txt']);
    fs.rmSync(parent, { recursive: true, force: true });
  });
});
