// The admission decision alone: no Redis, no root, no clock but the one passed in.
import { describe, expect, it } from 'vitest';
import { admit, type AdmitContext } from '../../src/daemon/admit.js';
import type { EffectiveLimits } from '../../src/protocol/result.js';
import { loadRuntimes } from '../../src/runtimes/load.js';

const maxima: EffectiveLimits = { wallMs: 5000, cpuMs: 2000, outputBytes: 1000, memoryBytes: 1 << 28, processes: 10, openFiles: 64, fileSizeBytes: 1 << 20 };
const context: AdmitContext = { runtimes: loadRuntimes(), maxima, taskBytes: 64 * 1024, filesBytes: 100, maxAttempts: 3, isCancelled: () => false, now: Date.parse('2030-01-01T00:00:00Z') };
const entry = (task: unknown, deliveries = 1) => ({ raw: typeof task === 'string' ? task : JSON.stringify(task), deliveries });
const task = { id: 't1', runtime: 'python', code: 'print(1)' };

describe('admit', () => {
  it('admits a valid task with its effective limits (the task may lower, never raise, a maximum)', () => {
    expect(admit(entry({ ...task, limits: { wallMs: 1000, cpuMs: 99_999 } }), context)).toMatchObject({
      kind: 'run',
      task: { id: 't1' },
      profile: { name: 'python' },
      limits: { ...maxima, wallMs: 1000 },
    });
  });

  it('rejects what cannot be parsed, dead-lettering it only when there is no id to answer', () => {
    expect(admit(entry('{not json'), context)).toMatchObject({ kind: 'unparsed', taskId: undefined, result: { status: 'rejected' }, deadReason: expect.stringMatching(/^unusable task: task is not valid JSON/) });
    const unknown = admit(entry({ ...task, runtime: 'cobol' }), context);
    expect(unknown).toMatchObject({ kind: 'unparsed', taskId: 't1', error: expect.stringMatching(/^unknown runtime "cobol"/) });
    expect(unknown).not.toHaveProperty('deadReason');
    expect(admit({ raw: undefined, deliveries: 1 }, context)).toMatchObject({ kind: 'unparsed', error: 'entry has no "task" field', deadReason: 'unusable task: entry has no "task" field' });
  });

  it('marks a task over the size cap (copied without its body) and a path escape (a security event)', () => {
    expect(admit(entry({ ...task, code: 'x'.repeat(70 * 1024) }), context)).toMatchObject({ kind: 'unparsed', taskId: 't1', tooLarge: true, pathEscape: false });
    expect(admit(entry({ ...task, files: [{ path: '../x', content: '' }] }), context)).toMatchObject({ kind: 'unparsed', tooLarge: false, pathEscape: true });
  });

  it('abandons a task delivered more than EXECUTOR_MAX_ATTEMPTS times, answering internal_error and dead-lettering it', () => {
    expect(admit(entry(task, 3), context).kind).toBe('run');
    const why = 'abandoned after 3 attempts: every executor that ran it stopped answering (EXECUTOR_MAX_ATTEMPTS=3)';
    expect(admit(entry(task, 4), context)).toEqual({ kind: 'refused', why: 'abandoned', task: expect.objectContaining({ id: 't1' }), result: expect.objectContaining({ status: 'internal_error', error: why }), deadReason: why });
  });

  it('rejects what the admission checks refuse, without a dead letter', () => {
    const a = admit(entry({ ...task, files: [{ path: 'big', content: 'x'.repeat(101) }] }), context);
    expect(a).toMatchObject({ kind: 'refused', why: 'rejected', result: { status: 'rejected', error: expect.stringMatching(/over the cap of 100 bytes \(EXECUTOR_FILES_BYTES\)/) } });
    expect(a).not.toHaveProperty('deadReason');
  });

  it('answers a cancelled task cancelled, and one past its deadline expired; the cancel is checked first', () => {
    const cancelled = { ...context, isCancelled: (id: string) => id === 't1' };
    expect(admit(entry(task), cancelled)).toMatchObject({ kind: 'refused', why: 'cancelled', result: { status: 'cancelled', error: 'cancelled before it ran' } });
    const deadline = context.now - 1;
    expect(admit(entry({ ...task, deadline }), context)).toMatchObject({ kind: 'refused', why: 'expired', result: { status: 'expired', error: `deadline ${new Date(deadline).toISOString()} passed before an executor reached it` } });
    expect(admit(entry({ ...task, deadline }), cancelled)).toMatchObject({ why: 'cancelled' });
    expect(admit(entry({ ...task, deadline: context.now }), context).kind).toBe('run');
  });
});
