import { describe, expect, it } from 'vitest';
import { parseTask } from '../../src/task/parse.js';
import { PEEK_BYTES, peekTaskId } from '../../src/task/peek-id.js';

const runtimes = ['python', 'node', 'bash'];
const parse = (task: unknown) => parseTask(typeof task === 'string' ? task : JSON.stringify(task), runtimes);

describe('parseTask', () => {
  it('accepts a full task', () => {
    const task = {
      id: 'a.B_c:1-2',
      runtime: 'python',
      code: 'print(1)',
      stdin: 'x',
      args: ['a'],
      env: { K: 'V' },
      limits: { wallMs: 10, cpuMs: 5, outputBytes: 100 },
    };
    expect(parse(task)).toEqual({ ok: true, task });
  });

  it('drops unknown fields so newer controllers still get their tasks run', () => {
    const r = parse({ id: 'x', runtime: 'bash', code: 'true', future: 1 });
    expect(r).toEqual({ ok: true, task: { id: 'x', runtime: 'bash', code: 'true' } });
  });

  it('rejects an entry without a task field, with no id to answer', () => {
    expect(parseTask(undefined, runtimes)).toEqual({ ok: false, id: undefined, error: 'entry has no "task" field' });
  });

  it('rejects invalid JSON without an id', () => {
    const r = parse('{not json');
    expect(r.ok).toBe(false);
    expect(r).toMatchObject({ id: undefined, error: expect.stringMatching(/^task is not valid JSON/) });
  });

  it.each([
    [{ runtime: 'python', code: '1' }, undefined, /id: id is required/],
    [{ id: '', runtime: 'python', code: '1' }, undefined, /id must be 1-128 characters/],
    [{ id: 'a b', runtime: 'python', code: '1' }, undefined, /id must be 1-128/],
    [{ id: 'x'.repeat(129), runtime: 'python', code: '1' }, undefined, /id must be 1-128/],
    [{ id: 't1', runtime: 'cobol', code: '1' }, 't1', /unknown runtime "cobol"; this executor runs: python, node, bash/],
    [{ id: 't2', runtime: 'python' }, 't2', /code: code is required/],
    [{ id: 't3', runtime: 'python', code: 1 }, 't3', /code: code must be a string/],
    [{ id: 't4', runtime: 'python', code: '1', args: [1] }, 't4', /args\.0/],
    [{ id: 't5', runtime: 'python', code: '1', env: { 'A=B': 'x' } }, 't5', /env names must match/],
    [{ id: 't6', runtime: 'python', code: '1', env: { A: 'x\u0000y' } }, 't6', /NUL/],
    [{ id: 't7', runtime: 'python', code: '1', limits: { wallMs: -1 } }, 't7', /limits\.wallMs/],
    [{ id: 't8', runtime: 'python', code: '1', limits: { cpuMs: 1.5 } }, 't8', /limits\.cpuMs/],
  ])('rejects %j, answering id %s', (task, id, error) => {
    const r = parse(task);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.id).toBe(id);
      expect(r.error).toMatch(error);
    }
  });

  it('refuses an entry over the size cap by its byte length, before parsing, and finds its id in the first bytes', () => {
    const raw = Buffer.from(JSON.stringify({ id: 'big-1', runtime: 'python', code: '1', stdin: 'é'.repeat(600) }));
    const r = parseTask(raw, runtimes, 1000);
    expect(r).toEqual({ ok: false, id: 'big-1', error: `task is ${raw.length} bytes, over the cap of 1000 bytes (EXECUTOR_TASK_BYTES)`, tooLarge: raw.length });
    // Not even JSON: the size alone decides.
    expect(parseTask(Buffer.alloc(1001, '{'), runtimes, 1000)).toMatchObject({ ok: false, id: undefined, tooLarge: 1001 });
    expect(parseTask(raw, runtimes, raw.length)).toMatchObject({ ok: true });
  });

  it.each([
    ['{"id":"a1","code":"x"}', 'a1'],
    [' {\n "runtime" : "bash", "limits": {"id": "inner"}, "args": ["\\"id\\": \\"fake\\""], "id" : "real"}', 'real'],
    ['{"code":"\\"id\\":\\"fake\\"","id":"after"}', 'after'],
    ['{"env":{"id":"nested"}}', undefined],
    ['{"id":"bad id"}', undefined],
    ['{"id":7}', undefined],
    ['["id","x"]', undefined],
  ])('peeks the top-level id of %s', (json, id) => {
    expect(peekTaskId(Buffer.from(json))).toBe(id);
  });

  it('gives up on an id past the peek bound', () => {
    expect(peekTaskId(Buffer.from(JSON.stringify({ code: 'c'.repeat(PEEK_BYTES), id: 'late' })))).toBeUndefined();
    expect(peekTaskId(Buffer.from(JSON.stringify({ code: 'c'.repeat(PEEK_BYTES - 100), id: 'early' })))).toBe('early');
  });
});
