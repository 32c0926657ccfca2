// The hostile snippets' code, kept as files beside the table (runtime-profiles/selftest/), as the
// standby bootstraps are: real Python, Node and bash that an editor and a linter can read. A
// `# include NAME` line pulls in runtime-profiles/selftest/lib/NAME; values a snippet needs from
// the checker come first, as `NAME = <JSON>` lines (a JSON literal is a Python literal too).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../../runtime-profiles/selftest', import.meta.url));

export function library(name: string): string {
  return fs.readFileSync(path.join(DIR, 'lib', name), 'utf8');
}

export function snippet(file: string, values: Record<string, unknown> = {}): string {
  const body = fs.readFileSync(path.join(DIR, file), 'utf8').replace(/^# include (\S+)\n/gm, (_, name: string) => library(name));
  const prelude = Object.entries(values).map(([k, v]) => `${k} = ${JSON.stringify(v)}\n`).join('');
  return (prelude + body).trimEnd();
}
