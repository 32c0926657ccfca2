// The id of a task too large to parse, read from the start of its raw JSON: a small tokenizer
// over at most PEEK_BYTES that walks the top-level object, skipping every value but `id`. Only
// a top-level `"id": "<string>"` counts — `"id"` inside a string or a nested object does not.
import { TASK_ID_PATTERN } from './schema.js';

/** How far into an entry the id is looked for. Clients write `id` first; a scan stops here. */
export const PEEK_BYTES = 64 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export function peekTaskId(raw: Buffer): string | undefined {
  const end = Math.min(raw.length, PEEK_BYTES);
  let i = skipSpace(raw, 0, end);
  if (raw[i] !== 0x7b /* { */) return undefined;
  i += 1;
  for (;;) {
    i = skipSpace(raw, i, end);
    if (i >= end || raw[i] !== QUOTE) return undefined;
    const keyEnd = stringEnd(raw, i, end);
    if (keyEnd === undefined) return undefined;
    const key = raw.subarray(i + 1, keyEnd).toString('latin1');
    i = skipSpace(raw, keyEnd + 1, end);
    if (raw[i] !== 0x3a /* : */) return undefined;
    i = skipSpace(raw, i + 1, end);
    if (key === 'id') {
      if (raw[i] !== QUOTE) return undefined;
      const valueEnd = stringEnd(raw, i, end);
      if (valueEnd === undefined) return undefined;
      const id = raw.subarray(i + 1, valueEnd).toString('latin1');
      return TASK_ID_PATTERN.test(id) ? id : undefined;
    }
    const next = valueEnd(raw, i, end);
    if (next === undefined) return undefined;
    i = skipSpace(raw, next, end);
    if (raw[i] !== 0x2c /* , */) return undefined;
    i += 1;
  }
}

function skipSpace(raw: Buffer, i: number, end: number): number {
  while (i < end && (raw[i] === 0x20 || raw[i] === 0x09 || raw[i] === 0x0a || raw[i] === 0x0d)) i += 1;
  return i;
}

/** Index of the quote that closes the string opening at `i`; undefined when it is not within end. */
function stringEnd(raw: Buffer, i: number, end: number): number | undefined {
  for (let j = i + 1; j < end; j += 1) {
    if (raw[j] === BACKSLASH) j += 1;
    else if (raw[j] === QUOTE) return j;
  }
  return undefined;
}

/** Index just past the value starting at `i` (string, object, array or scalar). */
function valueEnd(raw: Buffer, i: number, end: number): number | undefined {
  if (raw[i] === QUOTE) {
    const close = stringEnd(raw, i, end);
    return close === undefined ? undefined : close + 1;
  }
  let depth = 0;
  for (let j = i; j < end; j += 1) {
    const c = raw[j];
    if (c === QUOTE) {
      const close = stringEnd(raw, j, end);
      if (close === undefined) return undefined;
      j = close;
    } else if (c === 0x7b || c === 0x5b) depth += 1;
    else if (c === 0x7d || c === 0x5d) {
      if (depth === 0) return j;
      depth -= 1;
      if (depth === 0) return j + 1;
    } else if (depth === 0 && c === 0x2c) return j;
  }
  return undefined;
}
