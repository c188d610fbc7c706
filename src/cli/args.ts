/**
 * Command-line flags to options: pure (no I/O), so every error message is testable. An error
 * names the flag; the CLI prints it and exits 2.
 * @module
 */
import { parseArgs } from 'node:util';
import { LOG_LEVELS, type LogLevel } from '../server/index.js';

export interface CliOptions {
  readonly host: string;
  readonly port: number;
  readonly auth: 'token' | 'none';
  readonly tokenFile: string | undefined;
  readonly logLevel: LogLevel;
  readonly shellLogoutWait: number;
  readonly shellTerminateWait: number;
  readonly authTimeout: number;
  readonly pingInterval: number;
  readonly allowedOrigins: readonly string[];
  readonly maxConnections: number;
  /** The shell command after `--`, or undefined for the default login shell. */
  readonly command: readonly string[] | undefined;
}

export type ParsedArgs =
  | { readonly kind: 'run'; readonly options: CliOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'error'; readonly message: string };

export const USAGE = `Usage: xterm-js-shell [options] [-- command [args...]]

A web shell: open the printed URL for a shell in the browser.

Options:
  --host HOST                 address to listen on (default 127.0.0.1)
  --port PORT                 TCP port, 0 for any free one (default 8765)
  --auth token|none           authentication (default token)
  --token-file FILE           read the token from FILE (else $XTERM_JS_SHELL_TOKEN,
                              else a random token is generated and printed in the URL)
  --allowed-origin ORIGIN     also accept WebSocket upgrades from this page origin
                              (repeatable; the server's own host is always accepted)
  --max-connections N         connections served at once (default 1024)
  --log-level LEVEL           error, warn, info, debug-min or debug (default info)
  --shell-logout-wait SECS    SIGHUP to SIGKILL wait when ending a shell (default 1)
  --shell-terminate-wait SECS give up on a shell that survives SIGKILL (default 3)
  --auth-timeout SECS         time a client has to authenticate (default 5)
  --ping-interval SECS        ping every socket this often; one that stays silent for
                              a whole interval is cut off (default 30, 0: off)
  -h, --help                  show this help
  -V, --version               show the version

The shell is /bin/bash -l unless a command follows --.
`;

const DEFAULTS = {
  host: '127.0.0.1',
  port: 8765,
  maxConnections: 1024,
  shellLogoutWait: 1,
  shellTerminateWait: 3,
  authTimeout: 5,
  pingInterval: 30,
};

class FlagError extends Error {}

function seconds(
  flag: string,
  value: string | undefined,
  fallback: number,
  positive = false,
): number {
  if (value === undefined) {
    return fallback;
  }
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number < 0 || (positive && number === 0)) {
    const bound = positive ? '> 0' : '>= 0';
    throw new FlagError(`--${flag} must be a number of seconds ${bound}, got '${value}'`);
  }
  return number;
}

function wholeNumber(
  flag: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) {
    return fallback;
  }
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) {
    throw new FlagError(`--${flag} must be a whole number from ${min} to ${max}, got '${value}'`);
  }
  return number;
}

function oneOf<T extends string>(
  flag: string,
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) {
    return fallback;
  }
  if (!(allowed as readonly string[]).includes(value)) {
    throw new FlagError(`--${flag} must be one of ${allowed.join(', ')}, got '${value}'`);
  }
  return value as T;
}

/** Rewrites node's parseArgs errors into one line that names the flag. */
function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown !== null) {
    return `unknown option ${unknown[1]} (see --help)`;
  }
  const missing = /Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/.exec(message);
  if (missing !== null) {
    return `${missing[1]} needs a value`;
  }
  const positional = /Unexpected argument '([^']+)'/.exec(message);
  if (positional !== null) {
    return `unexpected argument '${positional[1]}': put the shell command after --`;
  }
  return message;
}

export function parseCliArgs(argv: readonly string[]): ParsedArgs {
  const separator = argv.indexOf('--');
  const flags = separator < 0 ? argv : argv.slice(0, separator);
  const command = separator < 0 ? undefined : argv.slice(separator + 1);
  let values;
  try {
    ({ values } = parseArgs({
      args: [...flags],
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        auth: { type: 'string' },
        'token-file': { type: 'string' },
        'allowed-origin': { type: 'string', multiple: true },
        'max-connections': { type: 'string' },
        'log-level': { type: 'string' },
        'shell-logout-wait': { type: 'string' },
        'shell-terminate-wait': { type: 'string' },
        'auth-timeout': { type: 'string' },
        'ping-interval': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    }));
  } catch (error) {
    return { kind: 'error', message: describeParseError(error) };
  }
  if (values.help === true) {
    return { kind: 'help' };
  }
  if (values.version === true) {
    return { kind: 'version' };
  }
  try {
    if (command !== undefined && (command.length === 0 || command[0] === '')) {
      throw new FlagError('-- must be followed by the shell command');
    }
    const host = values.host ?? DEFAULTS.host;
    if (host.trim() === '') {
      throw new FlagError('--host must not be empty');
    }
    const auth = oneOf('auth', values.auth, ['token', 'none'] as const, 'token');
    if (values['token-file'] !== undefined && auth !== 'token') {
      throw new FlagError('--token-file goes with --auth token');
    }
    for (const origin of values['allowed-origin'] ?? []) {
      if (!/^https?:\/\/[^/\s]+$/i.test(origin)) {
        throw new FlagError(
          `--allowed-origin must be an origin such as https://example.com, got '${origin}'`,
        );
      }
    }
    return {
      kind: 'run',
      options: {
        host,
        port: wholeNumber('port', values.port, DEFAULTS.port, 0, 65535),
        auth,
        tokenFile: values['token-file'],
        logLevel: oneOf('log-level', values['log-level'], LOG_LEVELS, 'info'),
        shellLogoutWait: seconds(
          'shell-logout-wait',
          values['shell-logout-wait'],
          DEFAULTS.shellLogoutWait,
        ),
        shellTerminateWait: seconds(
          'shell-terminate-wait',
          values['shell-terminate-wait'],
          DEFAULTS.shellTerminateWait,
        ),
        authTimeout: seconds('auth-timeout', values['auth-timeout'], DEFAULTS.authTimeout, true),
        pingInterval: seconds('ping-interval', values['ping-interval'], DEFAULTS.pingInterval),
        allowedOrigins: values['allowed-origin'] ?? [],
        maxConnections: wholeNumber(
          'max-connections',
          values['max-connections'],
          DEFAULTS.maxConnections,
          1,
          1_000_000,
        ),
        command,
      },
    };
  } catch (error) {
    if (error instanceof FlagError) {
      return { kind: 'error', message: error.message };
    }
    throw error;
  }
}
