// Everything about the sandbox decided once at start-up: who snippets run as, what isolation this
// machine allows, which places are made private per run. Refuses to start when a required
// guarantee cannot be given, rather than run snippets with less isolation than configured.
import fs from 'node:fs';
import path from 'node:path';
import { ERROR_CODES, ExecutorError, configError } from '../errors.js';
import type { Logger } from '../log.js';
import { installBootstraps } from '../runtimes/bootstraps.js';
import { DISPLAY_BACKENDS_DIR } from '../runtimes/load.js';
import { probeCapabilities, type SandboxCapabilities } from './capabilities.js';
import { identitiesByRuntime, resolveSandboxIdentity, type SandboxIdentity } from './identity.js';
import { writeMountTable } from './launcher.js';
import type { RunContext } from './types.js';
import { discoverWritablePlaces } from './writable-places.js';

export interface PreparedSandbox {
  /** The sandbox user as configured (the first runtime's). */
  identity: SandboxIdentity;
  /** Who each runtime's snippets run as, by standby slot (see identitiesByRuntime). */
  identities: ReadonlyMap<string, readonly SandboxIdentity[]>;
  capabilities: SandboxCapabilities;
  sweepPlaces: string[];
  /** Where scratch directories are made (root's own). */
  workDir: string;
  /** The context every run of `runtime` gets, logging through `logger`. */
  runContext(logger: Logger, runtime?: string, slot?: number): RunContext;
}

/** The settings the sandbox is prepared from (each is the config option of the same name). */
export interface SandboxConfig
  extends Pick<RunContext, 'workDir' | 'addressSpaceBytes' | 'sandboxPath' | 'killGraceMs' | 'cpuSampleMs' | 'artifactFiles' | 'artifactBytes' | 'artifactList' | 'deliveryTimeoutMs'> {
  sandboxUser: string;
  allowSharedUser: boolean;
  requireGvisor: boolean;
  network: 'none' | 'allow';
  /** Folders each run gets a private tmpfs over (EXECUTOR_PRIVATE_DIRS, parsed). */
  privateDirs: readonly string[];
  /** Folders swept after each run, or `auto` (EXECUTOR_SWEEP_DIRS, parsed). */
  sweepDirs: 'auto' | readonly string[];
  tmpBytes: number;
  /** Standby slots per runtime (each its own uid; 1 without standby interpreters). */
  standbySlots?: number;
}

export async function prepareSandbox(config: SandboxConfig, logger: Logger, runtimeNames: readonly string[] = []): Promise<PreparedSandbox> {
  const identity = resolveSandboxIdentity(config);
  const identities = identitiesByRuntime(identity, runtimeNames, config.standbySlots ?? 1);
  const capabilities = await probeCapabilities(identity.mode === 'dedicated');
  if (config.requireGvisor && capabilities.kind !== 'gvisor') {
    throw new ExecutorError(ERROR_CODES.GVISOR_REQUIRED, 'EXECUTOR_REQUIRE_GVISOR=1 but this executor is not running under gVisor (runsc)');
  }
  if (identity.mode === 'dedicated' && config.network === 'none' && !capabilities.networkNamespace) {
    throw new ExecutorError(
      ERROR_CODES.NETWORK_NAMESPACE_UNAVAILABLE,
      'EXECUTOR_NETWORK=none but network namespaces cannot be created here (unshare --net failed; it needs CAP_SYS_ADMIN). ' +
        'Grant it, or set EXECUTOR_NETWORK=allow to give snippets the pod\'s network (the NetworkPolicy is then the only fence).',
    );
  }
  const privateDirs = existingDirs(config.privateDirs);
  const workDir = path.resolve(config.workDir);
  // Whether each run gets fresh tmpfs mounts over privateDirs.
  const privateMounts = capabilities.privateMounts && identity.mode === 'dedicated';
  if (privateMounts) {
    const hidden = privateDirs.find((d) => workDir === d || workDir.startsWith(`${d}/`));
    if (hidden) throw configError(`EXECUTOR_WORK_DIR=${workDir} is inside ${hidden}, which every run replaces with a private tmpfs; choose a folder outside ${privateDirs.join(', ')}`);
  }
  // Where files of the sandbox user are looked for (and deleted) after every run: every place a
  // run can write to, except those it sees as a private tmpfs (gone with its mount namespace).
  const sweepPlaces = [
    ...new Set([...privateDirs, ...(config.sweepDirs === 'auto' ? discoverWritablePlaces([workDir]) : existingDirs(config.sweepDirs)), workDir]),
  ].filter((p) => !(privateMounts && privateDirs.includes(p)));
  fs.mkdirSync(workDir, { recursive: true });
  if (identity.mode === 'dedicated') {
    // Scratch folders and the mount table are made here as root: the folder must be root's own.
    const st = fs.lstatSync(workDir);
    if (!st.isDirectory() || st.uid !== 0) throw configError(`EXECUTOR_WORK_DIR=${workDir} must be a folder owned by root (it is ${st.isDirectory() ? `owned by uid ${st.uid}` : 'not a folder'})`);
    // Only root may list the scratch folders; each run may enter its own.
    fs.chmodSync(workDir, 0o711);
  }
  // The display backends a runtime profile names (`{display}`), where every run can read them.
  const displayDir = installBootstraps(DISPLAY_BACKENDS_DIR, workDir);
  const mountTable = privateMounts ? writeMountTable(workDir, privateDirs, config.tmpBytes) : undefined;
  // The run's init: it reaps and counts every process of a run, and ends a run without anything
  // executed as the sandbox user (see sandbox/run-init.ts). Without it neither can be promised.
  if (identity.mode === 'dedicated' && !capabilities.runInit) {
    throw new ExecutorError(ERROR_CODES.RUN_INIT_UNAVAILABLE, 'perl is required for the per-run init (Debian: perl-base) and was not found on PATH');
  }

  logger.info(
    {
      sandbox: capabilities.kind,
      user: identity.name,
      uids: Object.fromEntries([...identities].map(([name, ids]) => [name, ids.length === 1 ? ids[0]!.uid : ids.map((id) => id.uid)])),
      userMode: identity.mode,
      privateMounts: privateMounts ? privateDirs : [],
      networkNamespace: capabilities.networkNamespace,
      ipcNamespace: capabilities.ipcNamespace,
      pidNamespace: capabilities.pidNamespace,
      network: config.network,
      workDir,
      sweepPlaces,
    },
    capabilities.kind === 'gvisor' ? 'running under gVisor' : 'not running under gVisor (sandbox none)',
  );
  // Natively every run has a PID namespace whose init reaps its own orphans; without one they go
  // to the daemon's PID 1, which must reap them or they pile up against the uids' process limit.
  if (identity.mode === 'dedicated' && !capabilities.pidNamespace) {
    const init = pidOneName();
    if (process.pid === 1 || !REAPING_INITS.has(init)) {
      logger.warn({ pid1: init }, `runs get no PID namespace here, and PID 1 (${init}) may not reap orphans: run the daemon under an init that does (tini -s -- agent-executor serve)`);
    }
  }
  if (identity.mode === 'dedicated' && !capabilities.privateMounts) {
    logger.warn({ privateDirs }, 'private mount namespaces are not available: shared writable places are emptied after each run instead');
  }
  return {
    identity,
    identities,
    capabilities,
    sweepPlaces,
    workDir,
    runContext: (log, runtime, slot = 0) => ({
      identity: (runtime === undefined ? undefined : identities.get(runtime)?.[slot]) ?? identity,
      capabilities,
      network: config.network === 'allow',
      mountTable,
      displayDir,
      privateDirs: mountTable === undefined ? [] : privateDirs,
      sweepPlaces,
      addressSpaceBytes: config.addressSpaceBytes,
      workDir,
      sandboxPath: config.sandboxPath,
      killGraceMs: config.killGraceMs,
      cpuSampleMs: config.cpuSampleMs,
      artifactFiles: config.artifactFiles,
      artifactBytes: config.artifactBytes,
      artifactList: config.artifactList,
      deliveryTimeoutMs: config.deliveryTimeoutMs,
      logger: log,
    }),
  };
}

// Inits known to reap orphaned children.
const REAPING_INITS = new Set(['tini', 'docker-init', 'dumb-init', 'catatonit', 'systemd', 'init', 's6-svscan', 'runit', 'runsv']);

function pidOneName(): string {
  try {
    return fs.readFileSync('/proc/1/comm', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** The folders of a list that exist, absolute. */
function existingDirs(list: readonly string[]): string[] {
  return list
    .map((d) => path.resolve(d))
    .filter((d) => fs.existsSync(d));
}
