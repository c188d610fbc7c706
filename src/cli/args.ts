/**
 * Command-line flags to options: pure (no I/O), so every error message is testable. An error
 * names the flag; the CLI prints it and exits 2.
 * @module
 */
import { parseArgs } from 'node:util';
import {
  DEFAULT_SOCKET_MODE,
  LOG_LEVELS,
  MAX_IDLE_SECONDS,
  type LogLevel,
} from '../server/index.js';
import { parseTrustedProxies } from '../server/auth/trusted-proxies.js';

export interface CliOptions {
  readonly host: string;
  readonly port: number;
  /** A UNIX socket path to listen on instead of TCP (--socket). */
  readonly socket: string | undefined;
  /** The socket file's mode (--socket-mode). */
  readonly socketMode: number;
  /** Seconds without a connection after which the server exits 0 (--exit-when-idle). */
  readonly exitWhenIdle: number | undefined;
  readonly auth: 'token' | 'jwt' | 'none';
  /** Where the JWT key comes from and the claims required, for `--auth jwt`. */
  readonly jwt: JwtFlags | undefined;
  /** --allow-unauthenticated-remote: `--auth none` on an address other than loopback. */
  readonly allowUnauthenticatedRemote: boolean;
  readonly tokenFile: string | undefined;
  readonly logLevel: LogLevel;
  readonly shellLogoutWait: number;
  readonly shellTerminateWait: number;
  readonly authTimeout: number;
  readonly pingInterval: number;
  readonly resumeWindow: number;
  readonly replayBufferBytes: number;
  /** Lines of scrollback kept with each screen, or false when screen state is off. */
  readonly screenState: false | { readonly scrollbackLines: number };
  readonly recordDir: string | undefined;
  readonly recordInput: boolean;
  readonly metrics: boolean;
  readonly allowedOrigins: readonly string[];
  readonly frameAncestors: readonly string[];
  readonly trustedProxies: readonly string[];
  readonly maxShareLifetime: number;
  readonly maxConnections: number;
  /** The shell command after `--`, or undefined for the default login shell. */
  readonly command: readonly string[] | undefined;
}

/** The `--jwt-*` flags: exactly one key file, the audience, optionally the issuer. */
export interface JwtFlags {
  readonly secretFile: string | undefined;
  readonly publicKeyFile: string | undefined;
  readonly jwksFile: string | undefined;
  readonly audience: string;
  readonly issuer: string | undefined;
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
  --socket PATH               listen on a UNIX socket instead of TCP (for a proxy); a
                              stale socket file is replaced, a live one refused
  --socket-mode MODE          the socket file's octal mode (default 0600)
  --exit-when-idle SECS       exit (code 0) after SECS without a connection
  --auth token|jwt|none       authentication (default token); none is refused on an
                              address other than loopback (see below)
  --token-file FILE           read the token from FILE (else $XTERM_JS_SHELL_TOKEN,
                              else a random token is generated and printed in the URL)
  --jwt-secret-file FILE      --auth jwt: HS256/384/512 secret (the file's bytes, >= 32)
  --jwt-public-key FILE       --auth jwt: PEM public key (RSA, EC or Ed25519)
  --jwt-jwks-file FILE        --auth jwt: a JWKS (JSON) file of public keys
  --jwt-audience AUD          --auth jwt: the aud tokens must carry (required)
  --jwt-issuer ISS            --auth jwt: the iss tokens must carry
  --allow-unauthenticated-remote
                              allow --auth none on an address other than loopback:
                              anyone who reaches it gets a shell
  --allowed-origin ORIGIN     also accept WebSocket upgrades from this page origin
                              (repeatable; the server's own host is always accepted)
  --frame-ancestors ORIGIN    let pages of this origin show the page in a frame
                              (repeatable; default: no framing)
  --trusted-proxy ADDR        believe X-Forwarded-For from this proxy: an IP address,
                              a CIDR range, or unix for the UNIX socket (repeatable;
                              default: nobody's, the socket's peer counts)
  --max-connections N         authenticated connections served at once (default 1024)
  --log-level LEVEL           error, warn, info, debug-min or debug (default info)
  --shell-logout-wait SECS    SIGHUP to SIGKILL wait when ending a shell (default 1)
  --shell-terminate-wait SECS give up on a shell that survives SIGKILL (default 3)
  --auth-timeout SECS         time a client has to authenticate (default 5)
  --ping-interval SECS        ping every socket this often; one that stays silent for
                              a whole interval is cut off (default 30, 0: off)
  --resume-window SECS        keep a shell whose connection dropped this long for the
                              page to resume it (default 60, 0: end it at once)
  --max-share-lifetime SECS   the longest a share link may live (default 86400)
  --replay-buffer BYTES       recent output kept per shell for resume; K, M suffixes
                              allowed (default 1M)
  --screen-state on|off       keep each shell's screen on the server, so a page that
                              joins or comes back after more output than the replay
                              buffer gets the exact screen (default on)
  --scrollback-lines N        lines of scrollback such a page gets (default 1000)
  --record-dir DIR            record each session as an asciicast v2 file in DIR
  --record-input              record typed input too (it holds passwords; default off)
  --metrics                   serve Prometheus metrics at /metrics
  -h, --help                  show this help
  -V, --version               show the version

The shell is /bin/bash -l unless a command follows --. Started by systemd socket
activation (LISTEN_PID, LISTEN_FDS), it serves the passed sockets instead of
--host/--port/--socket.
`;

const DEFAULTS = {
  host: '127.0.0.1',
  port: 8765,
  maxConnections: 1024,
  shellLogoutWait: 1,
  shellTerminateWait: 3,
  authTimeout: 5,
  pingInterval: 30,
  resumeWindow: 60,
  replayBufferBytes: 1024 * 1024,
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
  if (
    value.trim() === '' ||
    !Number.isFinite(number) ||
    number < 0 ||
    (positive && number === 0) ||
    number > MAX_IDLE_SECONDS
  ) {
    const bound = positive ? '> 0' : '>= 0';
    throw new FlagError(
      `--${flag} must be a number of seconds ${bound} and <= ${MAX_IDLE_SECONDS}, got '${value}'`,
    );
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

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** Bytes as a whole number with an optional K, M or G suffix (powers of 1024). */
function byteSize(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  const match = /^(\d+)([KMG]?)(?:i?B)?$/i.exec(value.trim());
  const bytes =
    match === null ? NaN : Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toUpperCase()] ?? NaN);
  if (!Number.isSafeInteger(bytes) || bytes > 1024 ** 3) {
    throw new FlagError(
      `--${flag} must be a size in bytes such as 65536, 512K or 1M (at most 1G), got '${value}'`,
    );
  }
  return bytes;
}

function nonEmpty(flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.trim() === '') {
    throw new FlagError(`--${flag} must not be empty`);
  }
  return value;
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

/** A file mode in octal as chmod takes it: `600`, `0600`, `0660`. */
function octalMode(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (!/^0?[0-7]{3}$/.test(value)) {
    throw new FlagError(`--${flag} must be an octal mode such as 0600 or 0660, got '${value}'`);
  }
  return parseInt(value, 8);
}

function idleSeconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number <= 0 || number > MAX_IDLE_SECONDS) {
    throw new FlagError(
      `--${flag} must be a number of seconds > 0 and <= ${MAX_IDLE_SECONDS}, got '${value}'`,
    );
  }
  return number;
}

/**
 * Whether the server listens where only this machine can reach it: a UNIX socket, a loopback
 * address (127.0.0.0/8, ::1) or `localhost`. A name that could resolve elsewhere is not.
 */
export function listensLocally(host: string, socket: string | undefined): boolean {
  if (socket !== undefined) {
    return true;
  }
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return (
    bare === 'localhost' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) ||
    /^(0{0,4}:){2,7}0{0,3}1$/.test(bare) ||
    /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare)
  );
}

function jwtFlags(
  auth: 'token' | 'jwt' | 'none',
  values: Partial<Record<`jwt-${string}`, string | boolean | undefined>>,
): JwtFlags | undefined {
  const keyFlags = ['jwt-secret-file', 'jwt-public-key', 'jwt-jwks-file'] as const;
  const given = (Object.keys(values) as Array<`jwt-${string}`>).filter(
    (name) => name.startsWith('jwt-') && values[name] !== undefined,
  );
  if (auth !== 'jwt') {
    if (given.length > 0) {
      throw new FlagError(`--${given[0]} goes with --auth jwt`);
    }
    return undefined;
  }
  const keys = keyFlags.filter((flag) => values[flag] !== undefined);
  if (keys.length !== 1) {
    throw new FlagError(
      `--auth jwt needs exactly one of --jwt-secret-file, --jwt-public-key, --jwt-jwks-file${keys.length > 1 ? `, got ${keys.map((flag) => `--${flag}`).join(' and ')}` : ''}`,
    );
  }
  const text = (flag: `jwt-${string}`): string | undefined => {
    const value = values[flag];
    if (typeof value === 'string' && value.trim() === '') {
      throw new FlagError(`--${flag} must not be empty`);
    }
    return typeof value === 'string' ? value : undefined;
  };
  const audience = text('jwt-audience');
  if (audience === undefined) {
    throw new FlagError(
      '--auth jwt needs --jwt-audience: the aud your identity provider puts in tokens for this ' +
        'server, so that a token minted for another service cannot open a shell',
    );
  }
  return {
    secretFile: text('jwt-secret-file'),
    publicKeyFile: text('jwt-public-key'),
    jwksFile: text('jwt-jwks-file'),
    audience,
    issuer: text('jwt-issuer'),
  };
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
  const ambiguous = /Option '(?:-\w, )?(--[\w-]+)' argument is ambiguous/.exec(message);
  if (ambiguous !== null) {
    const flag = ambiguous[1] as string;
    return `${flag} needs a value (for a value starting with a dash write ${flag}=VALUE)`;
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
        socket: { type: 'string' },
        'socket-mode': { type: 'string' },
        'exit-when-idle': { type: 'string' },
        auth: { type: 'string' },
        'token-file': { type: 'string' },
        'jwt-secret-file': { type: 'string' },
        'jwt-public-key': { type: 'string' },
        'jwt-jwks-file': { type: 'string' },
        'jwt-audience': { type: 'string' },
        'jwt-issuer': { type: 'string' },
        'allow-unauthenticated-remote': { type: 'boolean' },
        'allowed-origin': { type: 'string', multiple: true },
        'frame-ancestors': { type: 'string', multiple: true },
        'trusted-proxy': { type: 'string', multiple: true },
        'max-connections': { type: 'string' },
        'log-level': { type: 'string' },
        'shell-logout-wait': { type: 'string' },
        'shell-terminate-wait': { type: 'string' },
        'auth-timeout': { type: 'string' },
        'ping-interval': { type: 'string' },
        'resume-window': { type: 'string' },
        'replay-buffer': { type: 'string' },
        'max-share-lifetime': { type: 'string' },
        'record-dir': { type: 'string' },
        'record-input': { type: 'boolean' },
        'screen-state': { type: 'string' },
        'scrollback-lines': { type: 'string' },
        metrics: { type: 'boolean' },
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
    const socket = values.socket;
    if (socket !== undefined) {
      if (socket === '') {
        throw new FlagError('--socket must not be empty');
      }
      if (values.host !== undefined || values.port !== undefined) {
        throw new FlagError('--socket cannot be combined with --host or --port');
      }
    }
    if (values['socket-mode'] !== undefined && socket === undefined) {
      throw new FlagError('--socket-mode goes with --socket');
    }
    const auth = oneOf('auth', values.auth, ['token', 'jwt', 'none'] as const, 'token');
    if (values['token-file'] !== undefined && auth !== 'token') {
      throw new FlagError('--token-file goes with --auth token');
    }
    const jwt = jwtFlags(auth, values);
    const allowUnauthenticatedRemote = values['allow-unauthenticated-remote'] === true;
    if (auth === 'none' && !allowUnauthenticatedRemote && !listensLocally(host, socket)) {
      throw new FlagError(
        `--auth none on --host ${host} would give a shell to anyone who can reach it; ` +
          'listen on loopback or a --socket, or add --allow-unauthenticated-remote if that is meant',
      );
    }
    for (const flag of ['allowed-origin', 'frame-ancestors'] as const) {
      for (const origin of values[flag] ?? []) {
        if (!/^https?:\/\/[^/\s]+$/i.test(origin)) {
          throw new FlagError(
            `--${flag} must be an origin such as https://example.com, got '${origin}'`,
          );
        }
      }
    }
    const trustedProxies = values['trusted-proxy'] ?? [];
    try {
      parseTrustedProxies(trustedProxies);
    } catch (error) {
      throw new FlagError(`--trusted-proxy: ${(error as Error).message}`);
    }
    const shellLogoutWait = seconds(
      'shell-logout-wait',
      values['shell-logout-wait'],
      DEFAULTS.shellLogoutWait,
    );
    const shellTerminateWait = seconds(
      'shell-terminate-wait',
      values['shell-terminate-wait'],
      DEFAULTS.shellTerminateWait,
    );
    if (shellTerminateWait <= shellLogoutWait) {
      // Termination gives up at the terminate wait: SIGKILL at the logout wait must come first.
      throw new FlagError(
        `--shell-terminate-wait (${shellTerminateWait}) must be greater than --shell-logout-wait (${shellLogoutWait})`,
      );
    }
    return {
      kind: 'run',
      options: {
        host,
        port: wholeNumber('port', values.port, DEFAULTS.port, 0, 65535),
        socket,
        socketMode: octalMode('socket-mode', values['socket-mode'], DEFAULT_SOCKET_MODE),
        exitWhenIdle: idleSeconds('exit-when-idle', values['exit-when-idle']),
        auth,
        jwt,
        allowUnauthenticatedRemote,
        tokenFile: values['token-file'],
        logLevel: oneOf('log-level', values['log-level'], LOG_LEVELS, 'info'),
        shellLogoutWait,
        shellTerminateWait,
        authTimeout: seconds('auth-timeout', values['auth-timeout'], DEFAULTS.authTimeout, true),
        pingInterval: seconds('ping-interval', values['ping-interval'], DEFAULTS.pingInterval),
        resumeWindow: seconds('resume-window', values['resume-window'], DEFAULTS.resumeWindow),
        replayBufferBytes: byteSize(
          'replay-buffer',
          values['replay-buffer'],
          DEFAULTS.replayBufferBytes,
        ),
        screenState:
          oneOf('screen-state', values['screen-state'], ['on', 'off'], 'on') === 'off'
            ? false
            : {
                scrollbackLines: wholeNumber(
                  'scrollback-lines',
                  values['scrollback-lines'],
                  1000,
                  0,
                  100_000,
                ),
              },
        recordDir: nonEmpty('record-dir', values['record-dir']),
        recordInput: values['record-input'] === true,
        metrics: values.metrics === true,
        allowedOrigins: values['allowed-origin'] ?? [],
        frameAncestors: values['frame-ancestors'] ?? [],
        trustedProxies,
        maxShareLifetime: wholeNumber(
          'max-share-lifetime',
          values['max-share-lifetime'],
          86_400,
          1,
          365 * 86_400,
        ),
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
