import { describe, expect, it } from 'vitest';
import { exitCodeFor, exitCodeForError } from '../../src/cli/exit-code.js';
import { ERROR_CODES, ExecutorError } from '../../src/errors.js';
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

describe('exitCodeForError', () => {
  it.each([
    [ERROR_CODES.USAGE, 2],
    [ERROR_CODES.CONFIG_INVALID, 1],
    [ERROR_CODES.GVISOR_REQUIRED, 1],
    [ERROR_CODES.NETWORK_NAMESPACE_UNAVAILABLE, 1],
    [ERROR_CODES.SANDBOX_UIDS_HELD, 1],
    [ERROR_CODES.TASK_TOO_LARGE, 125],
    [ERROR_CODES.ARTIFACT_PATH_REFUSED, 125],
    ['ERR_PARSE_ARGS_UNKNOWN_OPTION', 2],
  ])('%s -> %i, by the code whatever the class', (code, exit) => {
    expect(exitCodeForError(Object.assign(new Error('x'), { code }))).toBe(exit);
    if (code.startsWith('EXEC_')) expect(exitCodeForError(new ExecutorError(code as never, 'x'))).toBe(exit);
  });

  it('gives 125 to an error without a known code', () => {
    expect(exitCodeForError(new Error('boom'))).toBe(125);
    expect(exitCodeForError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(125);
    expect(exitCodeForError('a string')).toBe(125);
  });
});
