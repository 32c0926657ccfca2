// What isolation this machine allows, probed once at start-up rather than assumed: the same image
// runs natively, under Docker without CAP_SYS_ADMIN, and under gVisor, whose support for mount
// namespaces varies by version (an old runsc refuses to make mounts private, and a mount made
// with propagation left unchanged leaks out of the namespace — so only a private one counts).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import type { SandboxKind } from '../protocol/result.js';

const run = promisify(execFile);

export interface SandboxCapabilities {
  /** What the executor itself runs inside: gVisor, or nothing (reported as `sandbox` in `started`). */
  kind: SandboxKind;
  /** A per-run mount namespace with private mounts: fresh tmpfs over /tmp and friends. */
  privateMounts: boolean;
  /** A per-run network namespace (loopback only). */
  networkNamespace: boolean;
  /** A per-run IPC namespace: SysV and POSIX IPC objects die with the run. */
  ipcNamespace: boolean;
  /**
   * A per-run PID namespace whose init (root's) reaps and kills the whole run. Only together with
   * private mounts: the run needs a /proc of its own namespace (an older gVisor's /proc refuses
   * most reads from inside a new PID namespace).
   */
  pidNamespace: boolean;
  /** perl is there for the per-run init (perl-base is part of every Debian-based image). */
  runInit: boolean;
}

export async function probeCapabilities(isRoot: boolean): Promise<SandboxCapabilities> {
  const sandbox = (await detectGvisor()) ? 'gvisor' : 'none';
  if (!isRoot) return { kind: sandbox, privateMounts: false, networkNamespace: false, ipcNamespace: false, pidNamespace: false, runInit: false };
  const [privateMounts, networkNamespace, ipcNamespace, pidNamespace, runInit] = await Promise.all([
    succeeds('unshare', ['--mount', '--propagation', 'private', 'true']),
    succeeds('unshare', ['--net', 'true']),
    succeeds('unshare', ['--ipc', 'true']),
    succeeds('unshare', ['--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child', '--mount-proc', 'true']),
    succeeds('perl', ['-e', '1']),
  ]);
  return { kind: sandbox, privateMounts, networkNamespace, ipcNamespace, pidNamespace: pidNamespace && privateMounts, runInit };
}

// gVisor's kernel reports a fixed, made-up identity through uname(2) and /proc/version: release
// "4.4.0", version "#1 SMP Sun Jan 10 15:06:54 PST 2016" (its sentry's constants, unchanged across
// releases); no real kernel gVisor can run on is that old. Both come from the kernel itself, so
// no process can change them. Its kernel log ("Starting gVisor...") is not used: natively that
// log is the host's, shared by every container, and a snippet writes into it (a process named
// "gVisor" that segfaults is logged by name), which made EXECUTOR_REQUIRE_GVISOR=1 pass on any
// node after one such snippet.
export const GVISOR_RELEASE = '4.4.0';
export const GVISOR_VERSION = '#1 SMP Sun Jan 10 15:06:54 PST 2016';

export function isGvisorKernel(kernel: { release: string; version: string; procVersion: string | undefined }): boolean {
  const unameSays = kernel.release === GVISOR_RELEASE && kernel.version === GVISOR_VERSION;
  // Where /proc is mounted it must agree; it is the kernel's too.
  const procSays = kernel.procVersion === undefined || kernel.procVersion.trim() === `Linux version ${GVISOR_RELEASE} ${GVISOR_VERSION}`;
  return unameSays && procSays;
}

async function detectGvisor(): Promise<boolean> {
  let procVersion: string | undefined;
  try {
    procVersion = fs.readFileSync('/proc/version', 'utf8');
  } catch {
    // no /proc: uname alone decides
  }
  return isGvisorKernel({ release: os.release(), version: os.version(), procVersion });
}

async function succeeds(file: string, args: string[]): Promise<boolean> {
  try {
    await run(file, args, { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}
