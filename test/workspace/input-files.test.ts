import { describe, expect, it } from 'vitest';
import { parseTask } from '../../src/task/parse.js';
import { checkInputFiles } from '../../src/workspace/input-files.js';

const parse = (files: unknown) => parseTask(JSON.stringify({ id: 't', runtime: 'python', code: '1', files }), ['python']);

describe('task files', () => {
  it.each([
    ['/etc/passwd', /must be relative/],
    ['../up', /"\.\." segments/],
    ['a/../../b', /"\.\." segments/],
    ['a//b', /empty/],
    ['./a', /"\."/],
    ['', /at least 1/],
  ])('rejects the path %j, naming it', (path, why) => {
    const r = parse([{ path, content: 'x' }]);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      // The path itself is named, once: `files[0].path "../up" must stay inside the working directory`.
      expect(r.error).toContain(`files[0].path ${JSON.stringify(path)} `);
      expect(r.error.match(/files\[0\]\.path/g)).toHaveLength(1);
      expect(r.error).toMatch(why);
    }
  });

  it('accepts nested relative paths, base64 content and a mode', () => {
    const r = parse([{ path: 'data/in.csv', content: 'YSxi', encoding: 'base64', mode: 0o755 }]);
    expect(r).toMatchObject({ ok: true, task: { files: [{ path: 'data/in.csv', encoding: 'base64', mode: 493 }] } });
  });

  it('rejects set-id and sticky mode bits', () => {
    expect(parse([{ path: 'x', content: '', mode: 0o4755 }]).ok).toBe(false);
  });

  it('caps the total size, saying the cap', () => {
    const files = [
      { path: 'a', content: 'x'.repeat(600), encoding: 'utf8' as const },
      { path: 'b', content: Buffer.alloc(600).toString('base64'), encoding: 'base64' as const },
    ];
    expect(checkInputFiles(files, 1000, ['main.py'])).toBe('files: 1200 bytes in all, over the cap of 1000 bytes (EXECUTOR_FILES_BYTES)');
    expect(checkInputFiles(files, 1200, ['main.py'])).toBeUndefined();
  });

  it('refuses duplicates, a file inside another file, and replacing the code file', () => {
    const f = (path: string) => ({ path, content: '', encoding: 'utf8' as const });
    expect(checkInputFiles([f('a'), f('a')], 1e6, [])).toMatch(/"a" is given twice/);
    expect(checkInputFiles([f('a'), f('a/b')], 1e6, [])).toMatch(/cannot both exist/);
    expect(checkInputFiles([f('main.py')], 1e6, ['main.py'])).toMatch(/would replace the executor's own main\.py/);
  });
});
