import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRuntimes, runtimeForFile } from '../../src/runtimes/load.js';

function folder(files: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runtimes-'));
  for (const [name, content] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

describe('loadRuntimes', () => {
  it('ships python, node and bash', () => {
    const r = loadRuntimes();
    expect([...r.keys()].sort()).toEqual(['bash', 'node', 'python']);
    expect(r.get('python')!.command).toContain('{file}');
  });

  it('maps file extensions to runtimes', () => {
    const r = loadRuntimes();
    expect(runtimeForFile(r, 'a/b.py')).toBe('python');
    expect(runtimeForFile(r, 'x.js')).toBe('node');
    expect(runtimeForFile(r, 'x.mjs')).toBe('node');
    expect(runtimeForFile(r, 'x.sh')).toBe('bash');
    expect(runtimeForFile(r, 'x.rb')).toBeUndefined();
  });

  it('adds a runtime from a second folder without touching the defaults', () => {
    const extra = folder({ 'ruby.json': { name: 'ruby', file: 'main.rb', command: ['ruby', '{file}'], extensions: ['.rb'] } });
    const r = loadRuntimes(`${loadRuntimesDefault()}:${extra}`);
    expect([...r.keys()].sort()).toEqual(['bash', 'node', 'python', 'ruby']);
  });

  it('names the file and the field of an invalid profile', () => {
    const dir = folder({ 'bad.json': { name: 'bad', file: 'x', command: ['bad'] } });
    expect(() => loadRuntimes(dir)).toThrow(/bad\.json is invalid: command: command must contain \{file\}/);
  });

  it('refuses a file that is not JSON', () => {
    const dir = folder({ 'x.json': '{' });
    expect(() => loadRuntimes(dir)).toThrow(/x\.json is not valid JSON/);
  });

  it('refuses an empty folder', () => {
    expect(() => loadRuntimes(folder({}))).toThrow(/no runtime profiles/);
  });
});

function loadRuntimesDefault(): string {
  return path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../runtime-profiles/runtimes');
}
