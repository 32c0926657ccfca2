// Standby bootstrap for Node.js. The executor starts `node <scratch>/main.js` ahead of time with
// NODE_OPTIONS="--require <this file>", so Node loads this before it reads the (not yet written)
// main file. Here it waits for a task; when the executor hands one over, it applies the task's
// arguments and environment, removes every trace of itself and returns: Node then runs main.js
// exactly as a freshly started one would (require.main, process.argv, ES module detection, stack
// traces). Without EXECUTOR_STANDBY_FD it does nothing.
//
// Handoff on that descriptor (a socket): this side writes "R" once ready; the executor then writes
// `<n>\0<arg 1>\0...<arg n>\0<NAME=value>\0....end\0` and shuts down its end.
'use strict';
(() => {
  const fdText = process.env.EXECUTOR_STANDBY_FD;
  // Without it (a Worker thread: NODE_OPTIONS applies to those too) there is nothing to wait for;
  // leave no trace either.
  if (fdText === undefined) {
    delete require.cache[__filename];
    return;
  }
  const fs = require('node:fs');
  const fd = Number(fdText);
  // Node creates process.stdout and process.stderr on first use, which costs a fresh process
  // about 10 ms before its first output; do it while waiting. The streams are the same objects
  // either way.
  void process.stdout;
  void process.stderr;
  fs.writeSync(fd, 'R');
  const chunks = [];
  const buf = Buffer.allocUnsafe(65536);
  for (;;) {
    let n;
    try {
      n = fs.readSync(fd, buf);
    } catch (err) {
      if (err.code === 'EAGAIN') continue;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  fs.closeSync(fd);
  // Retired without a task (shutdown, or a task this standby does not fit).
  if (chunks.length === 0) process.reallyExit(0);
  const fields = Buffer.concat(chunks).toString('utf8').split('\0');
  // A complete handoff ends with ".end" (then the empty string after the last NUL); anything else
  // was cut short, and the snippet must not run with half its arguments or environment.
  if (fields.at(-2) !== '.end' || fields.at(-1) !== '') process.reallyExit(70);
  const count = Number(fields[0]);
  const args = fields.slice(1, 1 + count);
  const env = fields.slice(1 + count, -2);

  for (const name of Object.keys(process.env)) delete process.env[name];
  for (const pair of env) {
    const at = pair.indexOf('=');
    process.env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  process.argv.push(...args);
  delete require.cache[__filename];
})();
