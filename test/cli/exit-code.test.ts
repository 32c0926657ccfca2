import { describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../src/cli/exit-code.js';
import type { ExitResult } from '../../src/protocol/result.js';

const base: ExitResult = { status: 'ok', exitCode: 0, signal: null, wallMs: 1, cpuMs: 1, stdoutBytes: 0, stderrBytes: 0, truncated: false };

describe('exitCodeFor', () => {
  it.each([
    [{ status: 'ok' }, 0],
    [{ status: 'error', exitCode: 3 }, 3],
    [{ status: 'error', exitCode: null, signal: 'SIGSEGV' }, 139],
    [{ status: 'timeout', exitCode: null, signal: 'SIGTERM' }, 124],
    [{ status: 'cpu_limit', exitCode: null, signal: 'SIGKILL' }, 124],
    [{ status: 'output_limit' }, 124],
    [{ status: 'rejected', exitCode: null }, 125],
    [{ status: 'internal_error', exitCode: null }, 125],
  ] as [Partial<ExitResult>, number][])('%j -> %i', (partial, code) => {
    expect(exitCodeFor({ ...base, ...partial })).toBe(code);
  });
});
