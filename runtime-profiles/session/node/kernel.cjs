// The node session kernel (docs/session-kernel.md). Cells run as scripts in this process's own
// context, so var/let/const/function/class declarations persist across cells as they do between
// the scripts of one page; a cell with top-level await is rewritten the way Node's REPL does it
// (its processTopLevelAwait, which needs --expose-internals), declarations hoisted and the last
// expression's value returned. SIGINT breaks off a running script (breakOnSigint) or abandons an
// awaited promise. It runs as the sandbox user beside the snippet and enforces nothing: budgets are
// the executor's, from outside.
'use strict';
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { Readable } = require('node:stream');
const util = require('node:util');
const vm = require('node:vm');
const { processTopLevelAwait } = require('internal/repl/await');

const FD = Number(process.env.EXECUTOR_SESSION_FD);
delete process.env.EXECUTOR_SESSION_FD;
const MAIN = path.join(process.cwd(), 'main.js');
process.argv.splice(1, 1, MAIN);
// What a script in the session's folder would have: require relative to it, module, __filename.
const mainModule = new Module(MAIN, null);
mainModule.filename = MAIN;
mainModule.paths = Module._nodeModulePaths(process.cwd());
Object.assign(globalThis, { require: Module.createRequire(MAIN), module: mainModule, exports: mainModule.exports, __filename: MAIN, __dirname: process.cwd() });

const cell = { n: 0, token: '', sync: 0, displays: 0, running: false };

function send(line) {
  const data = Buffer.from(`${line}\n`);
  for (let off = 0; off < data.length; ) off += fs.writeSync(FD, data, off);
}

function marker(...fds) {
  cell.sync += 1;
  const mark = Buffer.from(`\x1f${cell.token}:${cell.sync}\x1f`);
  for (const fd of fds) {
    try {
      fs.writeSync(fd, mark);
    } catch {
      // that descriptor was closed by the snippet
    }
  }
  return cell.sync;
}

function display(value) {
  if (!cell.running) return;
  cell.displays += 1;
  const m = marker(1);
  const text = typeof value === 'string' ? util.inspect(value) : util.inspect(value, { depth: 4, colors: false });
  send(`display ${cell.n} ${cell.displays} ${m} text/plain ${Buffer.from(text).toString('base64')}`);
}

// Errors thrown later by timers or promises no one awaits are reported, and the session goes on.
process.on('uncaughtException', (err) => process.stderr.write(`Uncaught ${err && err.stack ? err.stack : String(err)}\n`));
process.on('unhandledRejection', (err) => process.stderr.write(`Uncaught (in promise) ${err && err.stack ? err.stack : String(err)}\n`));
// SIGINT abandons an awaited promise; between cells it does nothing. (A running script is broken
// off by breakOnSigint, which takes over SIGINT while the script runs.)
let onSigint = () => undefined;
process.on('SIGINT', () => onSigint());

class Interrupted extends Error {}

async function evaluate(code, name) {
  const rewritten = processTopLevelAwait(code);
  const script = new vm.Script(rewritten ?? code, { filename: name });
  let value = script.runInThisContext({ breakOnSigint: true, displayErrors: false });
  if (rewritten === null) return value;
  value = await new Promise((resolve, reject) => {
    onSigint = () => reject(new Interrupted());
    value.then(resolve, reject);
  }).finally(() => (onSigint = () => undefined));
  return value && value.value;
}

// The user's frames only: the kernel's and Node's own (vm, streams) are taken out.
function userStack(err) {
  if (!err || typeof err.stack !== 'string') return `Uncaught ${util.inspect(err)}`;
  return err.stack
    .split('\n')
    .filter((line) => !/^\s+at /.test(line) || !(line.includes(__filename) || /[( ]node:/.test(line)))
    .join('\n');
}

function interrupted(err) {
  return err instanceof Interrupted || (err && err.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED');
}

async function runCell(code, stdin) {
  Object.defineProperty(process, 'stdin', { value: Readable.from(stdin.length ? [stdin] : []), configurable: true, writable: true });
  cell.running = true;
  let status = 'ok';
  let err;
  let result;
  try {
    result = await evaluate(code, `cell-${cell.n}`);
  } catch (e) {
    err = e === undefined ? new Error('undefined was thrown') : e;
  }
  if (err) {
    status = interrupted(err) ? 'interrupted' : 'error';
    process.stderr.write(`${status === 'interrupted' ? 'Interrupted: the cell was stopped (SIGINT)' : userStack(err)}\n`);
  } else if (result !== undefined) {
    display(result);
  }
  cell.running = false;
  send(`done ${cell.n} ${status} ${marker(1, 2)}`);
}

// Cells come as a header line and two payloads (docs/session-kernel.md).
let buf = Buffer.alloc(0);
let busy = false;
const input = fs.createReadStream(null, { fd: FD, autoClose: false });
input.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  void next();
});
input.on('end', () => process.exit(0));
input.on('error', () => process.exit(0));

async function next() {
  if (busy) return;
  for (;;) {
    const nl = buf.indexOf(10);
    if (nl === -1) return;
    const words = buf.subarray(0, nl).toString().split(' ');
    if (words.length !== 5 || words[0] !== 'cell') {
      buf = buf.subarray(nl + 1);
      continue;
    }
    const [codeLen, stdinLen] = [Number(words[3]), Number(words[4])];
    if (buf.length < nl + 1 + codeLen + stdinLen) return;
    const code = buf.subarray(nl + 1, nl + 1 + codeLen).toString();
    const stdin = Buffer.from(buf.subarray(nl + 1 + codeLen, nl + 1 + codeLen + stdinLen));
    buf = buf.subarray(nl + 1 + codeLen + stdinLen);
    Object.assign(cell, { n: Number(words[1]), token: words[2], sync: 0, displays: 0 });
    busy = true;
    try {
      await runCell(code, stdin);
    } finally {
      busy = false;
    }
  }
}

send('ready');
