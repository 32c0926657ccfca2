// Memory a run holds outside its processes' resident pages, which a snippet can otherwise fill
// without limit: memfd files (memfd_create, kept open or mapped), and files on the run's private
// tmpfs mounts (/dev/shm is POSIX shared memory). SysV shared memory is capped per run in its IPC
// namespace by the init instead (shm=). Each file is counted once, however many processes hold it.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ProcInfo } from '../sandbox/proc-table.js';

const TMPFS_MAGIC = 0x01021994;
// A snippet can make its maps huge (tens of thousands of mappings): read at most this much of it.
const MAPS_BYTES = 1024 * 1024;

// Read in chunks this size: a typical maps file is a few KiB, and this runs for every process of
// the run on every sample.
const CHUNK_BYTES = 64 * 1024;

async function readBounded(file: string): Promise<string> {
  const handle = await fs.open(file, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const chunks: Buffer[] = [];
    let length = 0;
    while (length < MAPS_BYTES) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, MAPS_BYTES - length));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      length += bytesRead;
    }
    return Buffer.concat(chunks, length).toString('latin1');
  } catch {
    return '';
  } finally {
    await handle.close();
  }
}

/** Bytes in memfds held by `members`, plus bytes used on the private mounts seen by `initPid`. */
export async function memoryOutsideRss(members: readonly ProcInfo[], initPid: number | undefined, privateDirs: readonly string[]): Promise<number> {
  const seen = new Set<string>();
  let bytes = 0;
  const count = async (file: string) => {
    const st = await fs.stat(file).catch(() => undefined);
    if (!st) return;
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    bytes += st.size;
  };
  await Promise.all(
    members.map(async (p) => {
      const fdDir = `/proc/${p.pid}/fd`;
      const fds = await fs.readdir(fdDir).catch(() => [] as string[]);
      for (const fd of fds) {
        const target = await fs.readlink(path.join(fdDir, fd)).catch(() => '');
        if (target.startsWith('/memfd:')) await count(path.join(fdDir, fd));
      }
      // A memfd may be mapped after its descriptor was closed.
      const maps = await readBounded(`/proc/${p.pid}/maps`);
      for (const line of maps.split('\n')) {
        if (!line.includes('/memfd:')) continue;
        await count(`/proc/${p.pid}/map_files/${line.slice(0, line.indexOf(' '))}`);
      }
    }),
  );
  if (initPid !== undefined) {
    for (const dir of privateDirs) {
      // Only once the run's own tmpfs is mounted there: until then the path is the host's folder.
      const [inside, outside] = await Promise.all([fs.stat(`/proc/${initPid}/root${dir}`).catch(() => undefined), fs.stat(dir).catch(() => undefined)]);
      if (!inside || !outside || inside.dev === outside.dev) continue;
      const st = await fs.statfs(`/proc/${initPid}/root${dir}`).catch(() => undefined);
      if (st?.type === TMPFS_MAGIC) bytes += (st.blocks - st.bfree) * st.bsize;
    }
  }
  return bytes;
}
