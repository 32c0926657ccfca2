// Types every phase of a run shares, and the pool of standby interpreters with it: what the
// prepared sandbox gives each run, and how a process ended. A leaf: it imports only types.
import type { Logger } from '../log.js';
import type { SandboxCapabilities } from './capabilities.js';
import type { SandboxIdentity } from './identity.js';

/** What a run of one runtime gets from the sandbox prepared at start-up (see prepare.ts). */
export interface RunContext {
  identity: SandboxIdentity;
  capabilities: SandboxCapabilities;
  /** Executor-wide network permission; a runtime profile may also allow it. */
  network: boolean;
  /** The fstab of the private tmpfs mounts each run gets (see writeMountTable); undefined: none. */
  mountTable: string | undefined;
  /** The folders those mounts cover (their files count as the run's memory). */
  privateDirs: readonly string[];
  /** Writable places searched for (and cleared of) the sandbox user's files after each run. */
  sweepPlaces: readonly string[];
  addressSpaceBytes: number;
  workDir: string;
  /** The display backends, installed in the work dir (`{display}` in a runtime profile). */
  displayDir: string;
  sandboxPath: string;
  killGraceMs: number;
  cpuSampleMs: number;
  artifactFiles: number;
  artifactBytes: number;
  /** At most this many entries of out/ are listed in the result. */
  artifactList: number;
  /** How long output may wait for Redis before the run is reported failed. */
  deliveryTimeoutMs: number;
  logger: Logger;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** For a death by SIGXFSZ: whether a file of the run had reached the file size limit. */
  fileSizeReached?: boolean;
}
