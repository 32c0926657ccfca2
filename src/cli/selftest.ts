// `agent-executor selftest`: prove this image is still sealed. Runs the hostile snippets through
// the daemon's own run-and-sweep code (no Redis), one line per check, non-zero exit on any failure.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { configuredMaxima } from '../run/limits.js';
import { loadRuntimes } from '../runtimes/load.js';
import { prepareSandbox } from '../sandbox/prepare.js';
import { runSelftest, SELFTEST_CHECKS } from '../selftest/runner.js';

export async function selftest(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { only: { type: 'string', multiple: true }, list: { type: 'boolean' } }, strict: true });
  if (values.list) {
    for (const name of SELFTEST_CHECKS) process.stdout.write(`${name}\n`);
    return 0;
  }
  const config = loadConfig();
  // Logs go to stderr so that stdout is the report.
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 2);
  const runtimes = loadRuntimes(config.runtimesDir);
  const sandbox = await prepareSandbox(config, logger);
  const caps = sandbox.capabilities;
  process.stdout.write(
    `sandbox: ${caps.kind}; user ${sandbox.identity.name} (uid ${sandbox.identity.uid}); ` +
      `private mounts: ${caps.privateMounts ? 'yes' : 'no (emptied after each run)'}; network namespace: ${caps.networkNamespace ? 'yes' : 'no'}\n`,
  );
  const outcomes = await runSelftest({
    sandbox,
    runtimes,
    maxima: configuredMaxima(config),
    networkAllowed: config.network === 'allow',
    logger,
    ...(values.only ? { only: values.only } : {}),
    onOutcome: (o) => process.stdout.write(`${o.ok ? 'ok  ' : 'FAIL'} ${o.name}: ${o.detail}\n`),
  });
  const failed = outcomes.filter((o) => !o.ok).length;
  process.stdout.write(`${outcomes.length - failed} passed, ${failed} failed\n`);
  return failed === 0 && outcomes.length > 0 ? 0 : 1;
}
