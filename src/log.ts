// Structured logs (pino). The daemon logs to stdout, one JSON object per line; each run logs
// through a child logger bound to its task id.
import { destination as pinoDestination, pino, type Logger } from 'pino';

export type { Logger };

// Cloud Logging reads `severity` (a string) from a JSON line; pino's numeric `level` stays beside it.
const SEVERITY: Record<string, string> = { trace: 'DEBUG', debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'CRITICAL' };

export function createLogger(level: string, destination: NodeJS.WritableStream | number = 1): Logger {
  return pino(
    {
      level,
      base: { service: 'agent-executor' },
      formatters: { level: (label, number) => ({ level: number, severity: SEVERITY[label] ?? 'DEFAULT' }) },
    },
    typeof destination === 'number' ? pinoDestination({ dest: destination, sync: true }) : destination,
  );
}

/** A logger that drops everything, for library callers who did not pass one. */
export const silentLogger: Logger = pino({ level: 'silent' });
