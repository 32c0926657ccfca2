// The shape of src/: no import cycle between modules (type-only imports included) nor between
// top-level folders (dependency-cruiser, rules in .dependency-cruiser.cjs), and the run and the
// daemon stay small files, one phase or concern each.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const DEPCRUISE = path.join(ROOT, 'node_modules/.bin/depcruise');
const run = promisify(execFile);

async function violations(...extra: string[]): Promise<string> {
  try {
    await run(DEPCRUISE, ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err', ...extra], { cwd: ROOT, timeout: 120_000 });
    return '';
  } catch (err) {
    const e = err as { stdout?: string; message: string };
    return e.stdout || e.message;
  }
}

describe('structure of src/', () => {
  it('has no import cycle between modules, type-only imports included', async () => {
    expect(await violations()).toBe('');
  }, 120_000);

  it('has no import cycle between its top-level folders', async () => {
    expect(await violations('--collapse', '^src/[^/]+')).toBe('');
  }, 120_000);

  it('exports the client alone as agent-executor/client, loading no daemon module', async () => {
    // The built package, as a controller imports it; the import rules (client-alone) keep it small.
    const probe = `const c = await import('agent-executor/client');
      console.log(JSON.stringify({ client: typeof c.ExecutorClient, saver: typeof c.artifactSaver, executor: 'Executor' in c }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], { cwd: ROOT, timeout: 60_000 });
    expect(JSON.parse(stdout)).toEqual({ client: 'function', saver: 'function', executor: false });
  }, 60_000);

  it.each(['src/run', 'src/daemon'])('%s: no file over 200 lines', (dir) => {
    const long = fs
      .readdirSync(path.join(ROOT, dir))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => ({ f, lines: fs.readFileSync(path.join(ROOT, dir, f), 'utf8').split('\n').length }))
      .filter((x) => x.lines > 200);
    expect(long).toEqual([]);
  });
});
