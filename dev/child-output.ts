// A child process run to its end within a bounded time, its output collected: how the dev tools
// (runsc runs, the benchmark) and the image tests run commands.
import type { ChildProcess } from 'node:child_process';

export interface ChildOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Resolves when `child` has exited and its pipes are closed; kills it and rejects after `timeoutMs`. */
export function collectOutput(child: ChildProcess, timeoutMs: number, what: string): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what}: no exit within ${timeoutMs} ms\n${tail(stdout)}\n${tail(stderr)}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The end of a long text, for error messages. */
export function tail(text: string, chars = 4000): string {
  return text.length > chars ? `…${text.slice(-chars)}` : text;
}
