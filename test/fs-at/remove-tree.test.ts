// Deleting trees through directory descriptors, on the real file system: any depth, any name,
// any permissions, and never through a link.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { close, openRoot } from '../../src/fs-at/dir.js';
import { existsAt, removeAt } from '../../src/fs-at/remove-tree.js';

const openFds = () => fs.readdirSync('/proc/self/fd').length;

describe('removeAt', () => {
  let base: string;
  let fd: number;
  beforeEach(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'remove-tree-'));
    fd = openRoot(base);
  });
  afterEach(() => {
    close(fd);
    execFileSync('rm', ['-rf', base]);
  });
  const python = (code: string) => execFileSync('python3', ['-c', code, base]);

  it('removes a tree deeper than PATH_MAX, with 255-byte and non-UTF-8 names, chmod 000 folders, links and a FIFO', async () => {
    fs.mkdirSync(path.join(base, 'victim'));
    fs.writeFileSync(path.join(base, 'victim', 'keep'), 'keep');
    python(
      [
        'import os, sys',
        'base = sys.argv[1]',
        'os.chdir(base); os.mkdir("t"); os.chdir("t")',
        'names = []',
        'for i in range(6000):',
        '    n = ("L" * 255) if i % 50 == 0 else b"\\xff".decode("latin1") if i % 7 == 0 else "d"',
        '    n = n.encode("latin1")',
        '    os.mkdir(n); os.chdir(n); names.append(n)',
        '    if i % 500 == 0:',
        '        os.symlink(os.path.join(base, "victim"), b"link"); os.mkfifo(b"fifo"); open(b"f\\xfe", "w").close()',
        'for i, n in enumerate(reversed(names)):',
        '    os.chdir("..")',
        '    if i % 301 == 0: os.chmod(n, 0)',
      ].join('\n'),
    );
    const before = openFds();
    await removeAt(fd, Buffer.from('t'));
    expect(existsAt(fd, Buffer.from('t'))).toBe(false);
    expect(fs.readFileSync(path.join(base, 'victim', 'keep'), 'utf8')).toBe('keep');
    expect(openFds()).toBe(before);
  });

  it('removes a wide folder, and a plain file, and does nothing for a name that is not there', async () => {
    python('import os, sys\nos.chdir(sys.argv[1]); os.mkdir("w")\nfor i in range(3000):\n    os.mkdir(f"w/d{i}"); open(f"w/d{i}/f", "w").close(); open(f"w/f{i}", "w").close()');
    fs.writeFileSync(path.join(base, 'plain'), 'x');
    fs.symlinkSync(path.join(base, 'w'), path.join(base, 'link-to-w'));
    await removeAt(fd, Buffer.from('link-to-w'));
    expect(fs.readdirSync(path.join(base, 'w')).length).toBe(6000);
    await removeAt(fd, Buffer.from('w'));
    await removeAt(fd, Buffer.from('plain'));
    await removeAt(fd, Buffer.from('absent'));
    expect(fs.readdirSync(base)).toEqual([]);
  });
});
