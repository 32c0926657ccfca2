// Files in and artifacts out, through real runs as the sandbox user.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { needsRoot } from '../helpers/env.js';
import { identity, runSnippet, testSandboxConfig } from '../helpers/run.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const joined = (files: { path: string; data: Buffer }[], p: string) => Buffer.concat(files.filter((f) => f.path === p).map((f) => f.data));

describe.skipIf(needsRoot.skip)(`files in, artifacts out ${needsRoot.reason}`, () => {
  it('writes task files before the code starts, binary-safe, with their modes, owned by the sandbox user', async () => {
    const binary = Buffer.from([0, 255, 1, 254, 10, 13]);
    const r = await runSnippet(
      'bash',
      'cat data/in.csv; od -An -tu1 bin.dat | tr -s " "; stat -c "%a %u" tool.sh; ./tool.sh',
      {
        files: [
          { path: 'data/in.csv', content: 'a,b\n1,2\n', encoding: 'utf8' },
          { path: 'bin.dat', content: binary.toString('base64'), encoding: 'base64' },
          { path: 'tool.sh', content: '#!/bin/bash\necho tool ran', encoding: 'utf8', mode: 0o755 },
        ],
      },
    );
    const [csv1, csv2, bytes, mode, ran] = r.stdout.toString().trim().split('\n');
    expect([csv1, csv2]).toEqual(['a,b', '1,2']);
    expect(bytes!.trim()).toBe('0 255 1 254 10 13');
    expect(mode).toMatch(/^755 \d+$/);
    expect(ran).toBe('tool ran');
  });

  it('returns what the snippet leaves in out/, byte for byte, with sizes and hashes', async () => {
    const r = await runSnippet('python', 'import os\nos.makedirs("out/plots")\nopen("out/table.csv", "w").write("x,y\\n1,2\\n")\nopen("out/plots/raw.bin", "wb").write(bytes(range(256)))');
    expect(r.files.map((f) => f.path)).toEqual(['plots/raw.bin', 'table.csv']);
    expect(joined(r.files, 'table.csv').toString()).toBe('x,y\n1,2\n');
    expect(joined(r.files, 'plots/raw.bin').equals(Buffer.from(Array.from({ length: 256 }, (_, i) => i)))).toBe(true);
    expect(r.result.artifacts).toEqual([
      { path: 'plots/raw.bin', bytes: 256, sha256: sha(Buffer.from(Array.from({ length: 256 }, (_, i) => i))), included: true },
      { path: 'table.csv', bytes: 8, sha256: sha(Buffer.from('x,y\n1,2\n')), included: true },
    ]);
  });

  it('returns a 5 MiB artifact in ordered parts', async () => {
    const r = await runSnippet('python', 'import random\nrandom.seed(7)\nopen("out/big.bin", "wb").write(random.randbytes(5 * 1024 * 1024))');
    const parts = r.files.filter((f) => f.path === 'big.bin');
    expect(parts.map((p) => p.part)).toEqual([1, 2, 3, 4, 5]);
    expect(parts.every((p) => p.parts === 5)).toBe(true);
    const data = joined(r.files, 'big.bin');
    expect(data.length).toBe(5 * 1024 * 1024);
    expect(sha(data)).toBe(r.result.artifacts![0]!.sha256);
  });

  it('never follows a symlink out of the folder and never returns another user\'s file', async () => {
    const r = await runSnippet('bash', 'ln -s /etc/passwd out/x; ln -s .. out/up; ln /etc/passwd out/hard 2>/dev/null; echo fine > out/ok.txt');
    expect(r.files.map((f) => f.path)).toEqual(['ok.txt']);
    expect(Buffer.concat(r.files.map((f) => f.data)).toString()).not.toContain('root:');
    expect(r.result.artifacts).toEqual([
      { path: 'ok.txt', bytes: 5, sha256: sha(Buffer.from('fine\n')), included: true },
      { path: 'up', bytes: 0, sha256: null, included: false, reason: 'symbolic link (never followed)' },
      { path: 'x', bytes: 0, sha256: null, included: false, reason: 'symbolic link (never followed)' },
    ]);
  });

  it('does not descend into out/ when out itself was replaced by a symlink', async () => {
    const r = await runSnippet('bash', 'rmdir out; ln -s /etc out');
    expect(r.files).toEqual([]);
    expect(r.result.artifacts).toBeUndefined();
  });

  it('caps artifacts by count and bytes and lists what was left out', async () => {
    const r = await runSnippet('python', 'for i in range(5):\n    open(f"out/f{i}.txt", "w").write("x" * 100)', { artifactCaps: { artifactFiles: 3 } });
    expect(r.files.map((f) => f.path)).toEqual(['f0.txt', 'f1.txt', 'f2.txt']);
    expect(r.result.artifacts!.filter((a) => !a.included)).toEqual([
      { path: 'f3.txt', bytes: 100, sha256: sha(Buffer.alloc(100, 'x')), included: false, reason: 'over the cap of 3 files (EXECUTOR_ARTIFACT_FILES)' },
      { path: 'f4.txt', bytes: 100, sha256: sha(Buffer.alloc(100, 'x')), included: false, reason: 'over the cap of 3 files (EXECUTOR_ARTIFACT_FILES)' },
    ]);
    const bytes = await runSnippet('python', 'open("out/a", "w").write("x" * 600)\nopen("out/b", "w").write("y" * 600)', { artifactCaps: { artifactBytes: 1000 } });
    expect(bytes.result.artifacts!.map((a) => [a.path, a.included])).toEqual([
      ['a', true],
      ['b', false],
    ]);
  });

  it('answers rejected, not an executor failure, when a task file cannot be written (admission bypassed)', async () => {
    // The daemon refuses such a path before the run; this is the run's own backstop.
    const r = await runSnippet('bash', 'echo must not run', { files: [{ path: `d/${'n'.repeat(256)}`, content: 'x', encoding: 'utf8' }] });
    expect(r.result).toMatchObject({ status: 'rejected', error: expect.stringMatching(/^files: "d\/n+" cannot be written: ENAMETOOLONG$/) });
    expect(r.result.sweep).toBeUndefined();
    expect(r.stdout.toString()).toBe('');
  });

  it('lists a file whose name is not UTF-8, with its bytes in pathBase64, and returns no file for it', async () => {
    const r = await runSnippet('bash', 'printf data > out/$\'\\xff\'name; mkdir out/$\'\\xfe\'; printf y > out/$\'\\xfe\'/ok; printf fine > out/plain');
    expect(r.files.map((f) => f.path)).toEqual(['plain']);
    expect(r.result.artifacts).toEqual([
      { path: 'plain', bytes: 4, sha256: sha(Buffer.from('fine')), included: true },
      { path: '\ufffd/ok', pathBase64: Buffer.from([0xfe, 0x2f, 0x6f, 0x6b]).toString('base64'), bytes: 1, sha256: null, included: false, reason: 'name is not valid UTF-8' },
      { path: '\ufffdname', pathBase64: Buffer.from([0xff, ...Buffer.from('name')]).toString('base64'), bytes: 4, sha256: null, included: false, reason: 'name is not valid UTF-8' },
    ]);
  });

  it('caps the listing of out/ and says how many entries were left unlisted', async () => {
    // Thousands of symlinks under a long path: before the cap, every one was listed in the exit entry.
    const code = 'import os\nd = "out/" + "/".join(["p" * 200] * 4)\nos.makedirs(d)\nfor i in range(5000):\n    os.symlink("/etc/passwd", f"{d}/link-{i:05}")\nopen("out/a.txt", "w").write("a")';
    const r = await runSnippet('python', code);
    expect(r.result.artifacts!.length).toBe(1000);
    expect(r.result.artifactsUnlisted).toBe(4001);
    expect(r.result.artifacts![0]).toMatchObject({ path: 'a.txt', included: true });
    expect(JSON.stringify(r.result).length).toBeLessThan(1000 * 1000);
    const few = await runSnippet('python', code, { environment: { artifactList: 10 } });
    expect(few.result.artifacts!.length).toBe(10);
    expect(few.result.artifactsUnlisted).toBe(4991);
    expect(few.files.map((f) => f.path)).toEqual(['a.txt']);
  });

  it('never follows a folder of out/ swapped for a symlink while artifacts are collected', async () => {
    // A root-only folder holding a file of the sandbox user: reachable only by following a link as root.
    const victim = path.join(testSandboxConfig.workDir, `victim-${process.pid}`);
    fs.mkdirSync(victim, { mode: 0o700 });
    fs.writeFileSync(path.join(victim, 'f'), 'ROOT-ONLY');
    fs.chownSync(path.join(victim, 'f'), identity.uid, identity.gid);
    try {
      let swapped = false;
      let scratch = '';
      const r = await runSnippet('bash', 'printf a > out/a.txt; mkdir out/sub; printf mine > out/sub/f; pwd', {
        // Stands in for a process that survived the run and swaps the folder mid-collection.
        onArtifact: (p) => {
          if (p !== 'a.txt' || swapped) return;
          const out = path.join(scratch, 'out');
          fs.renameSync(path.join(out, 'sub'), path.join(out, 'sub.old'));
          fs.symlinkSync(victim, path.join(out, 'sub'));
          swapped = true;
        },
        onOutput: (_, d) => void (scratch = d.toString().trim()),
      });
      expect(swapped).toBe(true);
      expect(Buffer.concat(r.files.map((f) => f.data)).toString()).not.toContain('ROOT-ONLY');
      expect(r.result.artifacts!.find((a) => a.path === 'sub/f')).toMatchObject({ included: false });
      expect(fs.readFileSync(path.join(victim, 'f'), 'utf8')).toBe('ROOT-ONLY');
    } finally {
      fs.rmSync(victim, { recursive: true, force: true });
    }
  });
});
