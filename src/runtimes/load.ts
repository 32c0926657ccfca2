// Load runtime profiles at start-up. Several folders may be given (colon-separated); a later
// folder's profile replaces an earlier one of the same name, so an image can override a default.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, ExecutorError } from '../errors.js';
import { runtimeProfileSchema, type RuntimeProfile } from './schema.js';

/** The runtimes shipped with the package. */
export const DEFAULT_RUNTIMES_DIR = fileURLToPath(new URL('../../runtime-profiles/runtimes', import.meta.url));

/** The standby bootstraps shipped with the package (`{standby}` in a runtime profile). */
export const STANDBY_BOOTSTRAPS_DIR = fileURLToPath(new URL('../../runtime-profiles/standby', import.meta.url));
/** The session kernels shipped with the package (`{session}` in a runtime profile). */
export const SESSION_KERNELS_DIR = fileURLToPath(new URL('../../runtime-profiles/session', import.meta.url));
/** The display backends shipped with the package (`{display}` in a runtime profile). */
export const DISPLAY_BACKENDS_DIR = fileURLToPath(new URL('../../runtime-profiles/display', import.meta.url));
/** The per-run init (run-init.pl) the launcher starts. */
export const LAUNCHER_DIR = fileURLToPath(new URL('../../runtime-profiles/launcher', import.meta.url));

export type RuntimeRegistry = ReadonlyMap<string, RuntimeProfile>;

export function loadRuntimes(dirs: string = DEFAULT_RUNTIMES_DIR): RuntimeRegistry {
  const registry = new Map<string, RuntimeProfile>();
  for (const dir of dirs.split(':').filter(Boolean)) {
    let names: string[];
    try {
      names = fs.readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
    } catch (cause) {
      throw new ExecutorError(ERROR_CODES.RUNTIMES_INVALID, `cannot read runtimes folder ${dir}`, { cause });
    }
    for (const name of names) {
      const file = path.join(dir, name);
      registry.set(...readProfile(file));
    }
  }
  if (registry.size === 0) {
    throw new ExecutorError(ERROR_CODES.RUNTIMES_INVALID, `no runtime profiles (*.json) found in ${dirs}`);
  }
  return registry;
}

function readProfile(file: string): [string, RuntimeProfile] {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new ExecutorError(ERROR_CODES.RUNTIMES_INVALID, `runtime profile ${file} is not valid JSON`, { cause });
  }
  const parsed = runtimeProfileSchema.safeParse(json);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ExecutorError(ERROR_CODES.RUNTIMES_INVALID, `runtime profile ${file} is invalid: ${why}`);
  }
  return [parsed.data.name, parsed.data];
}

/** The runtime a file name implies by its extension, if any. */
export function runtimeForFile(registry: RuntimeRegistry, fileName: string): string | undefined {
  const ext = path.extname(fileName);
  for (const profile of registry.values()) if (profile.extensions.includes(ext)) return profile.name;
  return undefined;
}
