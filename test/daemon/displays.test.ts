// Displays in plain (session-less) runs, through the real daemon: matplotlib's plt.show() in a
// python whose runtime profile names the display backend yields image/png display entries in their
// place among stdout, on a standby and on a fresh interpreter alike; a task that sets the display
// variables itself gets none of them; frames that are not the run's pass through as output; display
// bytes count toward outputBytes, and a display over 1 MiB goes out in parts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_RUNTIMES_DIR } from '../../src/runtimes/load.js';
import { DaemonProcess, daemonEnv } from '../helpers/daemon.js';
import { connect, DEBIAN_PYTHON, hasMatplotlib, needsRoot, sandboxUid, unique } from '../helpers/env.js';
import { exitResult, field, readUntilExit, type RawEntry } from '../helpers/results.js';

const redis = connect();
const daemons: DaemonProcess[] = [];
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()));
});

// Debian's python3 runs the profile an image could add: the stock python one, display section included.
const runtimesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'display-runtimes-'));
afterAll(() => fs.rmSync(runtimesDir, { recursive: true, force: true }));
const stock = JSON.parse(fs.readFileSync(path.join(DEFAULT_RUNTIMES_DIR, 'python.json'), 'utf8')) as Record<string, unknown> & { command: string[] };
fs.writeFileSync(path.join(runtimesDir, 'python-mpl.json'), JSON.stringify({ ...stock, name: 'python-mpl', extensions: [], command: [DEBIAN_PYTHON, ...stock.command.slice(1)], session: undefined }));

function startDaemon(env: Record<string, string> = {}): { daemon: DaemonProcess; stream: string } {
  const stream = unique('displays');
  const daemon = new DaemonProcess(daemonEnv({ stream, uid: sandboxUid(38) }, { EXECUTOR_RUNTIMES_DIR: `${DEFAULT_RUNTIMES_DIR}:${runtimesDir}`, EXECUTOR_MAX_RUNS: '100', ...env }));
  daemons.push(daemon);
  return { daemon, stream };
}

/** What a controller reads: stdout/stderr as text, displays as `[k mime bytes]`, in stream order. */
function transcript(entries: RawEntry[]): string {
  return entries
    .filter((e) => ['stdout', 'stderr', 'display'].includes(field(e, 'type')))
    .map((e) => (field(e, 'type') === 'display' ? `[${field(e, 'display')} ${field(e, 'mime')}${field(e, 'parts') ? ` ${field(e, 'part')}/${field(e, 'parts')}` : ''}]` : e.fields.data!.toString()))
    .join('');
}

async function run(d: { daemon: DaemonProcess; stream: string }, task: Record<string, unknown>) {
  const id = unique('d');
  await d.daemon.waitForLog('executor started');
  await redis.xadd(d.stream, '*', 'task', JSON.stringify({ id, runtime: 'python-mpl', ...task }));
  const entries = await readUntilExit(redis, id, 60_000);
  const started = await d.daemon.waitForLog('run started', (l) => l.taskId === id);
  return { entries, result: exitResult(entries), standby: started.standby === true, displays: entries.filter((e) => field(e, 'type') === 'display') };
}

const PLOT = `
import matplotlib.pyplot as plt
print("before", flush=True)
plt.plot([1, 2, 3])
plt.show()
print("between")
plt.figure(); plt.bar([1], [2])
plt.show()
print("after")
`;

describe.skipIf(needsRoot.skip || !hasMatplotlib)(`displays in plain runs ${needsRoot.reason}${hasMatplotlib ? '' : ' (skipped: no matplotlib for /usr/bin/python3)'}`, () => {
  it('plt.show() yields image/png displays in their place, on a standby and on a fresh interpreter', async () => {
    for (const env of [{}, { EXECUTOR_STANDBY: 'none' }] as Record<string, string>[]) {
      const d = startDaemon(env);
      const r = await run(d, { code: PLOT });
      expect(r.standby).toBe(!('EXECUTOR_STANDBY' in env));
      expect(r.result).toMatchObject({ status: 'ok', exitCode: 0, truncated: false });
      expect(transcript(r.entries)).toBe('before\n[1 image/png][1 text/plain]between\n[2 image/png][2 text/plain]after\n');
      const png = r.displays.find((e) => field(e, 'mime') === 'image/png')!;
      expect(png.fields.data!.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
      expect(field(r.displays[1]!, 'data')).toMatch(/^<Figure size /);
      expect(r.displays.every((e) => field(e, 'attempt') === '1')).toBe(true);
      await d.daemon.stop();
    }
  }, 120_000);

  it('a task that sets a display variable gets none of them, and a fresh interpreter', async () => {
    const d = startDaemon();
    const r = await run(d, { env: { MPLBACKEND: 'agg' }, code: `import os, matplotlib.pyplot as plt\nplt.plot([1])\nplt.show()\nprint(sorted(k for k in os.environ if k in ("PYTHONPATH", "SANDBOX_DISPLAY_TOKEN", "MPLBACKEND")), plt.get_backend())` });
    expect(r.result).toMatchObject({ status: 'ok' });
    expect(r.standby).toBe(false);
    expect(r.displays).toEqual([]);
    expect(transcript(r.entries)).toBe("['MPLBACKEND'] agg\n");
  }, 60_000);

  it("passes other tokens' frames through as output; the run's own frame from any program is a display", async () => {
    const d = startDaemon();
    const code = String.raw`
import base64, os, subprocess
def frame(token, mime, data):
    return "\x1f%s:display %s %s\x1f" % (token, mime, base64.b64encode(data).decode())
print("a" + frame("0" * 32, "text/plain", b"forged") + "b", flush=True)
subprocess.run(["printf", "%s", frame(os.environ["SANDBOX_DISPLAY_TOKEN"], "text/html", b"<b>hi</b>")])
print("c")
`;
    const r = await run(d, { code });
    expect(r.result).toMatchObject({ status: 'ok' });
    expect(transcript(r.entries)).toBe(`a\x1f${'0'.repeat(32)}:display text/plain ${Buffer.from('forged').toString('base64')}\x1fb\n[1 text/html]c\n`);
    expect(field(r.displays[0]!, 'data')).toBe('<b>hi</b>');
  }, 60_000);

  it('display bytes count toward outputBytes; a display over 1 MiB goes out in parts', async () => {
    const d = startDaemon({ EXECUTOR_OUTPUT_BYTES: String(8 * 1024 ** 2) });
    const big = (n: number) => String.raw`
import base64, os
data = os.urandom(${n})
open("out/sent.bin", "wb").write(data)
os.write(1, b"first\n")
os.write(1, ("\x1f%s:display image/png %s\x1f" % (os.environ["SANDBOX_DISPLAY_TOKEN"], base64.b64encode(data).decode())).encode())
os.write(1, b"last\n")
`;
    const parts = await run(d, { code: big(1_500_000), limits: { outputBytes: 4_000_000 } });
    expect(parts.result).toMatchObject({ status: 'ok', truncated: false });
    expect(transcript(parts.entries)).toBe('first\n[1 image/png 1/2][1 image/png 2/2]last\n');
    const sent = Buffer.concat(parts.entries.filter((e) => field(e, 'type') === 'file').map((e) => e.fields.data!));
    expect(sent.length).toBe(1_500_000);
    expect(Buffer.concat(parts.displays.map((e) => e.fields.data!)).equals(sent)).toBe(true);

    const over = await run(d, { code: big(300_000), limits: { outputBytes: 200_000 } });
    expect(over.result).toMatchObject({ status: 'output_limit', truncated: true });
    expect(over.displays).toEqual([]);
  }, 60_000);
});
