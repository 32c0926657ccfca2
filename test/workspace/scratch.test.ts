// Deleting a scratch directory as root while something swaps its folders for symlinks: the
// deletion must never reach through a link into another folder, and must close what it opens.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createScratch } from '../../src/workspace/scratch.js';
import { needsRoot } from '../helpers/env.js';
import { identity, testSandboxConfig } from '../helpers/run.js';

const ROUNDS = 20;
const FILES = 200;

describe.skipIf(needsRoot.skip)(`scratch removal ${needsRoot.reason}`, () => {
  it('does not follow a folder swapped for a symlink mid-deletion', async () => {
    const base = testSandboxConfig.workDir;
    fs.mkdirSync(base, { recursive: true });
    const victim = path.join(base, `victim-scratch-${process.pid}`);
    const fdsBefore = fs.readdirSync('/proc/self/fd').length;
    const lost: number[] = [];
    const failures: string[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        fs.mkdirSync(victim, { recursive: true });
        for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(victim, `v${i}`), 'keep');
        const scratch = await createScratch(base, identity);
        const x = path.join(scratch.path, 'x');
        fs.mkdirSync(x);
        for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(x, `v${i}`), 'delete');
        // Stands in for a survivor of the run: swaps x for a link to the victim, back and forth.
        const racer = spawn('bash', ['-c', 'cd "$1"; while :; do mv x x.d; ln -s "$2" x; mv -T x.d x 2>/dev/null || { rm -f x; mv x.d x; }; done 2>/dev/null', 'racer', scratch.path, victim], {
          stdio: 'ignore',
          detached: true,
        });
        await new Promise((r) => setTimeout(r, 20));
        await scratch.remove().catch((err: Error) => failures.push(err.message));
        // The whole group: a mv or ln the racer had started must not outlive it.
        const exited = new Promise((r) => racer.once('exit', r));
        process.kill(-racer.pid!, 'SIGKILL');
        await exited;
        lost.push(FILES - fs.readdirSync(victim).length);
        fs.rmSync(scratch.path, { recursive: true, force: true });
        fs.rmSync(victim, { recursive: true, force: true });
      }
    } finally {
      fs.rmSync(victim, { recursive: true, force: true });
    }
    expect({ lost: lost.reduce((a, b) => a + b, 0), rounds: ROUNDS }).toEqual({ lost: 0, rounds: ROUNDS });
    expect(fs.readdirSync('/proc/self/fd').length).toBe(fdsBefore);
    // Deletion while another process keeps adding entries may fail; it must say so, never follow.
    console.log(`scratch removal under a racer: ${failures.length} of ${ROUNDS} rounds reported a failure`);
  });
});
