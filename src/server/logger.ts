/**
 * The pino logger factory: the `debug-min` level, one child per connection, and redaction of
 * anything that could hold a credential.
 * @module
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/**
 * pino numbers its levels ten above Python's logging (debug 20, info 30), so the original's
 * DEBUG_MIN = 15, "between debug and info", is 25 here. Keeping the literal 15 would put it
 * below debug and make `--log-level debug-min` the noisier of the two.
 */
export const DEBUG_MIN_LEVEL = 25;

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug-min', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Keys that could carry a secret; pino replaces their values before anything is written. */
const REDACT_PATHS = [
  'credential',
  'token',
  'password',
  '*.credential',
  '*.token',
  '*.password',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
];

export interface CreateLoggerOptions {
  /** @default 'info' */
  level?: LogLevel | LevelWithSilent;
  /** Where log lines go: a file descriptor (2 for stderr) or a stream. @default stdout */
  destination?: number | pino.DestinationStream;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  // pino types a logger with custom levels apart from a plain Logger; callers see the plain one
  // and reach debug-min through logDebugMin.
  const logger = pino(
    {
      level: options.level ?? 'info',
      customLevels: { 'debug-min': DEBUG_MIN_LEVEL },
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    typeof options.destination === 'number'
      ? pino.destination({ dest: options.destination, sync: true })
      : options.destination,
  );
  return logger as unknown as Logger;
}

/**
 * Logs at `debug-min` when the logger knows the level, else at debug: a logger handed in by an
 * embedding application may not have it (the original aliases it the same way).
 */
export function logDebugMin(log: Logger, fields: object, message: string): void {
  const method = (log as unknown as Record<string, unknown>)['debug-min'];
  if (typeof method === 'function') {
    (method as (fields: object, message: string) => void).call(log, fields, message);
  } else {
    log.debug(fields, message);
  }
}
