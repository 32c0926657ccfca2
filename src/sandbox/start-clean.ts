// Proving the sandbox clean before the first task, wherever the daemon runs: a container killed
// mid-run (OOM, eviction) and restarted in place keeps its pod's volumes — the work dir and any
// shared writable place — and a killed daemon's runs may outlive it on a host. So before it takes
// any work the daemon kills every process of all its sandbox uids (from root), deletes their files
// in every sweep place (the work dir's scratch folders included), and verifies. Only after it
// holds the uids (uid-lock.ts): another daemon's runs are never its to kill.
import type { Logger } from '../log.js';
import type { SandboxIdentity } from './identity.js';
import { findFilesOf, removeFilesOf } from './leftover-files.js';
import { createProcessScope, killScope } from './process-scope.js';

export interface StartClean {
  clean: boolean;
  problems: string[];
}

export async function cleanAtStart(identities: readonly SandboxIdentity[], places: readonly string[], logger: Logger): Promise<StartClean> {
  const problems: string[] = [];
  for (const identity of identities) {
    const scope = createProcessScope(identity, 0);
    const killed = (await scope.members()).length;
    const survivors = await killScope(scope);
    const removed = await removeFilesOf(identity.uid, places);
    if (killed > 0 || removed.count > 0) {
      logger.warn({ uid: identity.uid, processes: killed, files: removed.count, sample: removed.sample.slice(0, 10) }, 'found what an earlier run left (a crash?); removed it before the first task');
    }
    for (const p of survivors) problems.push(`process ${p.pid} of sandbox uid ${identity.uid} survived the kill`);
    const stuck = await findFilesOf(identity.uid, places);
    for (const f of stuck.sample) problems.push(`file ${f} of sandbox uid ${identity.uid} could not be removed`);
  }
  return { clean: problems.length === 0, problems };
}
