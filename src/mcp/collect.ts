// Follow one submission to its end, keeping what the answering attempt produced (README,
// "Delivery guarantees": output of an older attempt is dropped when a newer one starts).
import type { Submission } from '../client/follow.js';
import type { DisplayEvent, ExitResult, FileEvent, StartedEvent } from '../protocol/result.js';

export interface Collected {
  started?: StartedEvent;
  stdout: Buffer[];
  stderr: Buffer[];
  /** Display k -> mime -> bytes (parts joined). */
  displays: Map<number, Map<string, Buffer>>;
  /** Artifact path -> bytes (parts joined). */
  files: Map<string, Buffer>;
}

export function emptyCollected(): Collected {
  return { stdout: [], stderr: [], displays: new Map(), files: new Map() };
}

/** Callbacks for `submit`/`run` that fill `c`. */
export function collector(c: Collected) {
  return {
    onStarted: (e: StartedEvent) => {
      if (c.started && e.attempt > c.started.attempt) Object.assign(c, emptyCollected());
      c.started = e;
    },
    onStdout: (d: Buffer) => c.stdout.push(d),
    onStderr: (d: Buffer) => c.stderr.push(d),
    onDisplay: (e: DisplayEvent) => {
      const reps = c.displays.get(e.display) ?? new Map<string, Buffer>();
      reps.set(e.mime, Buffer.concat([reps.get(e.mime) ?? Buffer.alloc(0), e.data]));
      c.displays.set(e.display, reps);
    },
    onFile: (e: FileEvent) => c.files.set(e.path, Buffer.concat([e.part > 1 ? (c.files.get(e.path) ?? Buffer.alloc(0)) : Buffer.alloc(0), e.data])),
  };
}

export type Outcome = ExitResult | { timedOut: true } | { aborted: true };

/**
 * The result; or, when none came in time or the caller gave up (the MCP request was cancelled),
 * the task is cancelled — nobody will read its answer, and it must not hold an executor.
 */
export async function settle(sub: Submission, cancel: () => Promise<void>, timeoutMs: number, signal?: AbortSignal): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const late = new Promise<{ timedOut: true }>((resolve) => (timer = setTimeout(() => resolve({ timedOut: true }), timeoutMs)));
  const aborted = new Promise<{ aborted: true }>((resolve) => {
    if (signal?.aborted) return resolve({ aborted: true });
    onAbort = () => resolve({ aborted: true });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const outcome = await Promise.race([sub.result, late, aborted]);
    if ('timedOut' in outcome || 'aborted' in outcome) await cancel().catch(() => undefined);
    return outcome;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
