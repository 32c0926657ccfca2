// Stand-ins for the official base images, built locally because no container registry is
// reachable from CI: a minimal Debian bookworm from debootstrap, imported into Docker, then small
// images tagged with the exact names the Dockerfiles' FROM lines use (read from the Dockerfiles),
// so that the project's Dockerfiles are built unchanged.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { run, type PrivateDocker } from './docker.js';
import { REPO } from './repo.js';

export const STANDIN_DEBIAN = 'agent-executor-standin/debian:bookworm';
const MIRROR = process.env.DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
const STANDINS = path.join(REPO, 'test/images/standins');

/** The default of `ARG <name>=...` in a Dockerfile of the repository. */
export function dockerfileArg(dockerfile: string, name: string): string {
  const m = new RegExp(`^ARG ${name}=(\\S+)`, 'm').exec(fs.readFileSync(path.join(REPO, dockerfile), 'utf8'));
  if (!m) throw new Error(`${dockerfile} has no ARG ${name}=...`);
  return m[1]!;
}

export interface StandinTimes {
  debootstrapMs: number;
  pythonMs: number;
  nodeMs: number;
}

export async function buildStandins(d: PrivateDocker): Promise<StandinTimes> {
  const pythonImage = dockerfileArg('Dockerfile.python', 'PYTHON_IMAGE');
  const nodeImage = dockerfileArg('Dockerfile.node', 'NODE_IMAGE');
  if (dockerfileArg('Dockerfile.python', 'NODE_IMAGE') !== nodeImage) throw new Error('Dockerfile.python and Dockerfile.node name different Node images');

  // A minimal Debian bookworm, with the sources the official images have, no package cache.
  const rootfs = path.join(d.dir, 'rootfs');
  const boot = await run('debootstrap', ['--variant=minbase', 'bookworm', rootfs, MIRROR], { timeoutMs: 600_000 });
  fs.rmSync(path.join(rootfs, 'etc/apt/sources.list'), { force: true });
  fs.writeFileSync(
    path.join(rootfs, 'etc/apt/sources.list.d/debian.sources'),
    [
      `Types: deb\nURIs: ${MIRROR}\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
      `Types: deb\nURIs: ${MIRROR}-security\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
    ].join('\n'),
  );
  for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
    for (const entry of fs.readdirSync(path.join(rootfs, dir))) {
      if (entry !== 'partial' && entry !== 'lock') fs.rmSync(path.join(rootfs, dir, entry), { recursive: true, force: true });
    }
  }
  const tar = spawn('tar', ['-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await d.docker(['import', '-', STANDIN_DEBIAN], { timeoutMs: 300_000, input: tar.stdout });
  fs.rmSync(rootfs, { recursive: true, force: true });

  // python: Debian's CPython (and numpy, pandas: see the Dockerfile's comment).
  const pythonCtx = context(d, 'python', 'python.Dockerfile');
  const python = await d.docker(['build', '--network=host', '-t', pythonImage, pythonCtx], { timeoutMs: 600_000 });

  // node: this machine's Node and npm, and its CA bundle (see the Dockerfile's comment).
  const nodeCtx = context(d, 'node', 'node.Dockerfile');
  fs.copyFileSync(fs.realpathSync(process.execPath), path.join(nodeCtx, 'node'));
  fs.cpSync(npmDir(), path.join(nodeCtx, 'npm'), { recursive: true });
  const ca = [process.env.NODE_EXTRA_CA_CERTS, process.env.SSL_CERT_FILE, '/etc/ssl/certs/ca-certificates.crt'].find((f) => f && fs.existsSync(f));
  if (ca) fs.copyFileSync(ca, path.join(nodeCtx, 'ca-certificates.crt'));
  else fs.writeFileSync(path.join(nodeCtx, 'ca-certificates.crt'), '');
  const node = await d.docker(['build', '--network=host', '-t', nodeImage, nodeCtx], { timeoutMs: 600_000 });
  return { debootstrapMs: boot.ms, pythonMs: python.ms, nodeMs: node.ms };
}

function context(d: PrivateDocker, name: string, dockerfile: string): string {
  const ctx = path.join(d.dir, `standin-${name}`);
  fs.mkdirSync(ctx);
  fs.copyFileSync(path.join(STANDINS, dockerfile), path.join(ctx, 'Dockerfile'));
  return ctx;
}

// npm's own folder (…/node_modules/npm), from the npm on PATH next to this Node.
function npmDir(): string {
  for (const candidate of [path.join(path.dirname(fs.realpathSync(process.execPath)), 'npm'), '/usr/bin/npm', '/usr/local/bin/npm']) {
    if (!fs.existsSync(candidate)) continue;
    const cli = fs.realpathSync(candidate); // …/node_modules/npm/bin/npm-cli.js
    const dir = path.resolve(path.dirname(cli), '..');
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  throw new Error('cannot find npm next to this Node');
}
