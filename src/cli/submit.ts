// `agent-executor submit`: enqueue one snippet, stream its output to our own stdout and stderr as
// it arrives, and exit with its exit code (see exit-code.ts for the reserved codes).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { artifactSaver } from '../client/save-artifacts.js';
import { ERROR_CODES, usageError } from '../errors.js';
import { loadRuntimes, runtimeForFile } from '../runtimes/load.js';
import type { TaskInput } from '../task/schema.js';
import { clientFromSettings, settingFlags } from './client-settings.js';
import { displayPrinter } from './displays.js';
import { EXIT_CANCELLED, EXIT_EXECUTOR, exitCodeFor } from './exit-code.js';

const QUEUED_HINT_MS = 5000;

export async function submit(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      runtime: { type: 'string', short: 'r' },
      eval: { type: 'string', short: 'e' },
      stdin: { type: 'string' },
      'wall-ms': { type: 'string' },
      'cpu-ms': { type: 'string' },
      'output-bytes': { type: 'string' },
      json: { type: 'boolean', default: false },
      id: { type: 'string' },
      env: { type: 'string', multiple: true },
      'timeout-ms': { type: 'string' },
      file: { type: 'string', multiple: true },
      out: { type: 'string' },
      'redis-url': { type: 'string' },
      stream: { type: 'string' },
      'key-prefix': { type: 'string' },
      session: { type: 'string' },
    },
  });

  const source = readCode(values.eval, positionals);
  const runtime = values.runtime ?? inferRuntime(source.file);
  const task: TaskInput = {
    runtime,
    code: source.code,
    ...(values.id === undefined ? {} : { id: values.id }),
    ...(source.args.length ? { args: source.args } : {}),
    ...(values.stdin === undefined ? {} : { stdin: fs.readFileSync(values.stdin, 'utf8') }),
    ...(values.env ? { env: parseEnv(values.env) } : {}),
    ...(values.file ? { files: values.file.map(attach) } : {}),
    ...(values.session === undefined ? {} : { session: values.session }),
  };
  const limits = {
    ...optionalInt('wall-ms', values['wall-ms'], 'wallMs'),
    ...optionalInt('cpu-ms', values['cpu-ms'], 'cpuMs'),
    ...optionalInt('output-bytes', values['output-bytes'], 'outputBytes'),
  };
  if (Object.keys(limits).length) task.limits = limits;
  const timeout = optionalInt('timeout-ms', values['timeout-ms'], 'timeoutMs');

  const { client, settings } = clientFromSettings(settingFlags(values), env);
  let submitted: string | undefined;
  let queuedHint: NodeJS.Timeout | undefined;
  try {
    let attempts = 0;
    // A name the saver refuses is skipped, said on stderr: the run's output and status still come.
    const saveArtifact = values.out === undefined ? undefined : artifactSaver(values.out, (err) => process.stderr.write(`[agent-executor] ${err.message} (skipped)\n`));
    const showDisplay = displayPrinter(values.out);
    // Ctrl-C cancels the task rather than leaving it running unattended; a second one quits.
    const onInterrupt = () => {
      if (submitted === undefined) process.exit(EXIT_CANCELLED);
      process.stderr.write(`\n[agent-executor] cancelling ${submitted}\n`);
      void client.cancel(submitted);
      process.once('SIGINT', () => process.exit(EXIT_CANCELLED));
    };
    process.once('SIGINT', onInterrupt);
    const submission = await client.submit(task, {
      ...timeout,
      ...(saveArtifact ? { onFile: saveArtifact } : {}),
      ...(values.session === undefined ? {} : { session: values.session }),
      ...(values.json ? {} : { onDisplay: showDisplay }),
      onStarted: (e) => {
        clearTimeout(queuedHint);
        attempts += 1;
        if (attempts > 1 && !values.json) process.stderr.write(`\n[agent-executor] attempt ${e.attempt} started; output above is from an earlier attempt\n`);
      },
      ...(values.json
        ? {}
        : { onStdout: (d: Buffer) => process.stdout.write(d), onStderr: (d: Buffer) => process.stderr.write(d) }),
    });
    submitted = submission.id;
    // Nothing started after a few seconds: most likely no executor reads this stream.
    queuedHint = setTimeout(() => {
      process.stderr.write(`[agent-executor] ${submission.id} is still queued after ${QUEUED_HINT_MS / 1000} s: is an executor reading ${settings.stream}?\n`);
    }, QUEUED_HINT_MS);
    queuedHint.unref();
    const result = await submission.result;
    process.off('SIGINT', onInterrupt);
    if (values.json) process.stdout.write(`${JSON.stringify({ id: submission.id, ...result })}\n`);
    else if (result.error !== undefined && result.status !== 'error') process.stderr.write(`[agent-executor] ${result.status}: ${result.error}\n`);
    return exitCodeFor(result);
  } catch (err) {
    // Not the snippet's doing: one line, and the code reserved for outcomes that are not its own.
    const code = (err as { code?: unknown } | null)?.code;
    if (code === ERROR_CODES.CLIENT_TIMEOUT) {
      process.stderr.write(`[agent-executor] ${(err as Error).message}; the task was not cancelled (agent-executor cancel ${submitted})\n`);
      return EXIT_EXECUTOR;
    }
    if (code === ERROR_CODES.CLIENT_UNREACHABLE) {
      process.stderr.write(`[agent-executor] ${(err as Error).message}\n`);
      return EXIT_EXECUTOR;
    }
    throw err;
  } finally {
    clearTimeout(queuedHint);
    await client.close();
  }
}

interface Source {
  code: string;
  file: string | undefined;
  args: string[];
}

function readCode(evalCode: string | undefined, positionals: string[]): Source {
  if (evalCode !== undefined) return { code: evalCode, file: undefined, args: positionals };
  const [file, ...args] = positionals;
  if (file === undefined) throw usageError('no code given: pass -e CODE, a file path, or - for standard input');
  if (file === '-') return { code: fs.readFileSync(0, 'utf8'), file: undefined, args };
  try {
    return { code: fs.readFileSync(file, 'utf8'), file, args };
  } catch (err) {
    throw usageError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

function inferRuntime(file: string | undefined): string {
  const runtime = file === undefined ? undefined : runtimeForFile(loadRuntimes(), file);
  if (runtime === undefined) {
    throw usageError(
      file === undefined ? '--runtime is required with -e or standard input' : `cannot tell the runtime of ${file} from its extension; pass --runtime`,
    );
  }
  return runtime;
}

/** `--file LOCAL[:REMOTE]`: attach a local file, at REMOTE (default: its name) in the working directory. */
function attach(spec: string): NonNullable<TaskInput['files']>[number] {
  const colon = spec.lastIndexOf(':');
  const [local, remote] = colon > 0 ? [spec.slice(0, colon), spec.slice(colon + 1)] : [spec, path.basename(spec)];
  let data: Buffer;
  let mode: number;
  try {
    data = fs.readFileSync(local);
    mode = fs.statSync(local).mode & 0o777;
  } catch (err) {
    throw usageError(`--file ${spec}: ${(err as Error).message}`);
  }
  return { path: remote, content: data.toString('base64'), encoding: 'base64', mode };
}

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usageError(`--env ${JSON.stringify(pair)}: expected NAME=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

function optionalInt<K extends string>(flag: string, raw: string | undefined, key: K): Partial<Record<K, number>> {
  if (raw === undefined) return {};
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw usageError(`--${flag} must be a positive whole number, got ${JSON.stringify(raw)}`);
  return { [key]: n } as Partial<Record<K, number>>;
}
