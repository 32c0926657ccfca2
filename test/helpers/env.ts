// Facts and names the tests share: the private Redis, a sandbox uid of this worker's own (runs in
// parallel workers must never sweep each other's processes), unique stream names.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

export const isRoot = process.getuid?.() === 0;

/** Debian's own python3, which has matplotlib (python3-matplotlib; .ci/run installs it). */
export const DEBIAN_PYTHON = '/usr/bin/python3';
export const hasMatplotlib = (() => {
  try {
    execFileSync(DEBIAN_PYTHON, ['-c', 'import matplotlib'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * A uid no other worker uses; a bare number needs no /etc/passwd entry. An executor given uid U
 * runs runtime i (in name order) as U + i, so each offset leaves room for ten runtimes.
 */
export function sandboxUid(offset = 0): number {
  const worker = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 1);
  // TEST_UID_BASE: two checkouts testing on one machine at once must not share uids either.
  const base = Number(process.env.TEST_UID_BASE ?? 62_000);
  return base + worker * 200 + offset * 10;
}

export function redisUrl(): string {
  return inject('redisUrl');
}

export function connect(): Redis {
  return new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
}

export function unique(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/**
 * Tests of the dedicated sandbox user need root. Off CI they are skipped with this reason; in CI
 * (CI=true) a skip would hide a failure, so there the missing root is the failure.
 */
export const needsRoot = (() => {
  if (isRoot) return { skip: false, reason: '' };
  if (process.env.CI === 'true') throw new Error('CI=true but the tests do not run as root: the sandbox-user tests cannot run');
  return { skip: true, reason: 'not root: snippets cannot run as a separate sandbox user here' };
})();

/** Poll `check` until it returns a value other than undefined, or fail after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
