import { describe, expect, it } from 'vitest';
import type { EffectiveLimits } from '../../src/protocol/result.js';
import { loadRuntimes } from '../../src/runtimes/load.js';
import { admissionProblem, execBudget, MAX_EXEC_STRING_BYTES } from '../../src/daemon/admission-checks.js';
import { MIN_OPEN_FILES } from '../../src/protocol/result.js';
import { parseTask } from '../../src/task/parse.js';
import type { Task } from '../../src/task/schema.js';

const python = loadRuntimes().get('python')!;
const limits: EffectiveLimits = { wallMs: 1000, cpuMs: 1000, outputBytes: 1000, memoryBytes: 1 << 28, processes: 10, openFiles: 64, fileSizeBytes: 1 << 20 };
const task = (extra: Partial<Task>): Task => ({ id: 't', runtime: 'python', code: '1', ...extra });
const check = (t: Task, l: Partial<EffectiveLimits> = {}) => admissionProblem(t, python, { ...limits, ...l }, { filesBytes: 1 << 20 });

describe('admission', () => {
  it('refuses file names the kernel cannot create, at the schema (so the client refuses them too)', () => {
    const parse = (path: string) => parseTask(JSON.stringify(task({ files: [{ path, content: 'x', encoding: 'utf8' }] })), ['python']);
    expect(parse(`a/${'x'.repeat(256)}`)).toMatchObject({ ok: false, error: expect.stringMatching(/files\[0\]\.path "a\/x+(\.\.\.)?" must have segments of at most 255 bytes \(NAME_MAX\)/) });
    // Bytes, not characters: 128 two-byte characters are 256 bytes.
    expect(parse('é'.repeat(128)).ok).toBe(false);
    expect(parse('é'.repeat(127)).ok).toBe(true);
    expect(parse(Array.from({ length: 8 }, () => 'x'.repeat(127)).join('/')).ok).toBe(true);
  });

  it('refuses openFiles below what the launcher and every interpreter need, naming the minimum', () => {
    expect(check(task({}), { openFiles: MIN_OPEN_FILES - 1 })).toMatch(new RegExp(`^limits.openFiles: ${MIN_OPEN_FILES - 1} is below ${MIN_OPEN_FILES}`));
    expect(check(task({}), { openFiles: MIN_OPEN_FILES })).toBeUndefined();
  });

  it('refuses an exec string over MAX_ARG_STRLEN: NAME=value for env, each arg', () => {
    const value = 'v'.repeat(MAX_EXEC_STRING_BYTES - 'K='.length);
    expect(check(task({ env: { K: value } }))).toBeUndefined();
    expect(check(task({ env: { K: `${value}v` } }))).toMatch(/^env\.K: K=\.\.\. is 131072 bytes, over 131071/);
    expect(check(task({ args: ['a', 'é'.repeat(65_536)] }))).toMatch(/^args\.1: 131072 bytes, over 131071/);
  });

  it('refuses env and args that together cannot fit one exec', () => {
    const { budget } = execBudget();
    const each = 100_000;
    const count = Math.ceil(budget / (each + 'Vnn='.length + 9)) + 1;
    const env = Object.fromEntries(Array.from({ length: count }, (_, i) => [`V${String(i).padStart(2, '0')}`, 'v'.repeat(each)]));
    expect(check(task({ env }))).toMatch(/^env and args: \d+ bytes, over the \d+ bytes one exec can carry here/);
    expect(check(task({ env: Object.fromEntries(Object.entries(env).slice(0, count - 2)) }))).toBeUndefined();
  });
});
