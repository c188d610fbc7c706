/**
 * The options of `WebSocketHandler`: the original handler's, in camelCase with the same
 * defaults, plus ours. Checked once at construction; a bad value throws naming the option.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { AuthCallback } from '../auth/types.js';
import { normaliseOrigin } from '../http/origin-check.js';
import type { Share } from '../session/share-store.js';
import { LOG_LEVELS, type Logger, type LogLevel } from '../logger.js';
import { SessionStore } from '../session/session-store.js';
import type { HandlerMetrics } from './handler-metrics.js';
import { MAX_TIMER_SECONDS } from '../timer-limits.js';

export interface FlowControlLimits {
  /** Pause the shell when this many output bytes are unacknowledged or buffered. @default 262144 */
  readonly highWaterBytes?: number;
  /** Resume it below this. @default 65536 */
  readonly lowWaterBytes?: number;
  /** The page acknowledges at least every this many bytes (below lowWaterBytes). @default 32768 */
  readonly ackBytes?: number;
}

/**
 * Judges a share link's secret: its share, or undefined for an unknown or expired one; may throw
 * an AuthRefusal (the throttle). The ready server passes its own.
 */
export type ShareAccess = (secret: string, logger: Logger) => Promise<Share | undefined>;

export interface WebSocketHandlerOptions {
  /**
   * Decides whether the client may have a shell; absent: no authentication. The client's first
   * frame (legacy) or its hello's credential (v1) is handed to it as is.
   */
  readonly authCallback?: AuthCallback;
  /** A pino logger; the handler logs through a child of it carrying the connection id. */
  readonly logger?: Logger;
  /** The id in every log line of this connection. @default a random UUID */
  readonly logId?: string;
  /** Level of the logger the handler makes when none is given. @default 'info' */
  readonly logLevel?: LogLevel;
  /** The shell and its arguments. @default ['/bin/bash', '-l'] */
  readonly userShellCommand?: readonly string[];
  /** Aborting it ends the connection and terminates its shell (the original's shutdown event). */
  readonly shutdownSignal?: AbortSignal;
  /** Seconds between SIGHUP and SIGKILL when the shell is terminated. @default 1 */
  readonly shellLogoutWait?: number;
  /** Seconds after which termination gives up with an error log. @default 3 */
  readonly shellTerminateWait?: number;
  /** Seconds the client has to send its credential. @default 5 */
  readonly authTimeout?: number;
  /** Variables added to the shell's environment; `undefined` removes one. @default {} */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The shell's working directory. @default $HOME, else the server's */
  readonly cwd?: string;
  /**
   * The HTTP upgrade request: for the peer address and X-Forwarded-For in the logs, and for the
   * origin check. Give it: without it a page of any site could open a shell whenever the auth
   * callback trusts something the browser sends by itself (a cookie, a proxy header).
   */
  readonly request?: IncomingMessage;
  /**
   * Page origins accepted besides the request's own host (`https://console.example.com`);
   * an upgrade from any other origin is closed with XJS_ERR_ORIGIN_FORBIDDEN. @default none
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * Refuse upgrades whose Origin is another site's (needs `request`). Turn it off only when
   * something in front already checks. @default true
   */
  readonly checkOrigin?: boolean;
  /** Output flow control marks, in bytes. */
  readonly flowControl?: FlowControlLimits;
  /**
   * Where v1 sessions are kept for resume. Without a store (the default, as in the original) a
   * shell ends with its connection; share one store between the handlers of a server.
   */
  readonly sessionStore?: SessionStore;
  /**
   * A directory to record each session into, as an asciicast v2 file named by start time and
   * session id. @default no recording
   */
  readonly recordDir?: string;
  /** Record input too (it holds passwords typed at prompts). @default false */
  readonly recordInput?: boolean;
  /** Receives counts for metrics (createShellServer passes its Prometheus metrics). */
  readonly metrics?: HandlerMetrics;
  /** Lets pages in through share links (createShellServer passes its own). */
  readonly shareAccess?: ShareAccess;
  /**
   * Seconds between server pings; a peer that has not answered one by the next is cut off and
   * its shell terminated. 0 turns pings off. @default 30
   */
  readonly pingInterval?: number;
  /** Largest client message accepted, in bytes; also set it as the ws `maxPayload`. @default 1048576 */
  readonly maxMessageBytes?: number;
}

/** The options with every default filled in and units converted to milliseconds. */
export interface ResolvedHandlerOptions {
  readonly authCallback: AuthCallback | undefined;
  readonly logger: Logger | undefined;
  readonly logId: string | undefined;
  readonly logLevel: LogLevel;
  readonly userShellCommand: readonly string[];
  readonly shutdownSignal: AbortSignal | undefined;
  readonly shellLogoutWaitMs: number;
  readonly shellTerminateWaitMs: number;
  readonly authTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string | undefined;
  readonly request: IncomingMessage | undefined;
  readonly allowedOrigins: ReadonlySet<string>;
  readonly checkOrigin: boolean;
  readonly sessionStore: SessionStore | undefined;
  readonly recordDir: string | undefined;
  readonly recordInput: boolean;
  readonly metrics: HandlerMetrics | undefined;
  readonly shareAccess: ShareAccess | undefined;
  readonly highWaterBytes: number;
  readonly lowWaterBytes: number;
  readonly ackBytes: number;
  readonly maxMessageBytes: number;
}

/** Normalised origins; a bad one throws naming the option. */
function origins(values: readonly string[] | undefined): ReadonlySet<string> {
  return new Set(
    (values ?? []).map((origin) => {
      const normalised = normaliseOrigin(origin);
      if (normalised === undefined) {
        throw new TypeError(`options.allowedOrigins: not an http(s) origin: ${origin}`);
      }
      return normalised;
    }),
  );
}

/** One shared empty object, so caches keyed by the env option hit for every default. */
const NO_ENV: Readonly<Record<string, string | undefined>> = Object.freeze({});

export const DEFAULT_SHELL_COMMAND: readonly string[] = ['/bin/bash', '-l'];
/**
 * 256 KiB in flight: what a page must parse after Ctrl+C before the prompt shows (the bench
 * measured 512 KiB → 162 ms, 128 KiB → 93 ms in Chromium), while still 5 MB/s at 50 ms RTT.
 */
export const DEFAULT_HIGH_WATER_BYTES = 256 * 1024;
export const DEFAULT_LOW_WATER_BYTES = 64 * 1024;
export const DEFAULT_ACK_BYTES = 32 * 1024;
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

function seconds(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) {
    return fallback * 1000;
  }
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    value > MAX_TIMER_SECONDS
  ) {
    throw new RangeError(
      `options.${name} must be a number of seconds from 0 to ${MAX_TIMER_SECONDS} (got ${String(value)})`,
    );
  }
  return value * 1000;
}

function bytes(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`options.${name} must be a positive whole number of bytes`);
  }
  return value;
}

function checkStore(store: SessionStore | undefined): SessionStore | undefined {
  if (store !== undefined && !(store instanceof SessionStore)) {
    throw new TypeError('options.sessionStore must be a SessionStore');
  }
  return store;
}

function optionalFunction<T>(name: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(`options.${name} must be a function (not ${typeof value})`);
  }
  return value;
}

export function resolveHandlerOptions(
  options: WebSocketHandlerOptions = {},
): ResolvedHandlerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('options must be an object');
  }
  const command = options.userShellCommand ?? DEFAULT_SHELL_COMMAND;
  if (
    !Array.isArray(command) ||
    command.length === 0 ||
    !command.every((part) => typeof part === 'string') ||
    command[0] === ''
  ) {
    throw new TypeError('options.userShellCommand must be a non-empty array of strings');
  }
  const logLevel = options.logLevel ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new RangeError(`options.logLevel must be one of ${LOG_LEVELS.join(', ')}`);
  }
  if (options.shutdownSignal !== undefined && !(options.shutdownSignal instanceof AbortSignal)) {
    throw new TypeError('options.shutdownSignal must be an AbortSignal');
  }
  const flow = options.flowControl ?? {};
  const highWaterBytes = bytes(
    'flowControl.highWaterBytes',
    flow.highWaterBytes,
    DEFAULT_HIGH_WATER_BYTES,
  );
  const lowWaterBytes = bytes(
    'flowControl.lowWaterBytes',
    flow.lowWaterBytes,
    Math.min(DEFAULT_LOW_WATER_BYTES, Math.floor(highWaterBytes / 4)),
  );
  const ackBytes = bytes(
    'flowControl.ackBytes',
    flow.ackBytes,
    Math.min(DEFAULT_ACK_BYTES, Math.floor(lowWaterBytes / 2) || 1),
  );
  if (lowWaterBytes >= highWaterBytes) {
    throw new RangeError('options.flowControl.lowWaterBytes must be below highWaterBytes');
  }
  // A client that acknowledges only every ackBytes must still bring the count below low water.
  if (ackBytes >= lowWaterBytes) {
    throw new RangeError('options.flowControl.ackBytes must be below lowWaterBytes');
  }
  const shellLogoutWaitMs = seconds('shellLogoutWait', options.shellLogoutWait, 1);
  const shellTerminateWaitMs = seconds('shellTerminateWait', options.shellTerminateWait, 3);
  // Termination gives up at shellTerminateWait: it must leave time for the SIGKILL stage.
  if (shellTerminateWaitMs <= shellLogoutWaitMs) {
    throw new RangeError('options.shellTerminateWait must be greater than options.shellLogoutWait');
  }
  const authTimeoutMs = seconds('authTimeout', options.authTimeout, 5);
  if (authTimeoutMs === 0) {
    throw new RangeError('options.authTimeout must be greater than 0');
  }
  return {
    authCallback: optionalFunction('authCallback', options.authCallback),
    logger: options.logger,
    logId: options.logId,
    logLevel,
    userShellCommand: [...command],
    shutdownSignal: options.shutdownSignal,
    shellLogoutWaitMs,
    shellTerminateWaitMs,
    authTimeoutMs,
    pingIntervalMs: seconds('pingInterval', options.pingInterval, 30),
    env: options.env ?? NO_ENV,
    cwd: options.cwd,
    request: options.request,
    allowedOrigins: origins(options.allowedOrigins),
    checkOrigin: options.checkOrigin ?? true,
    sessionStore: checkStore(options.sessionStore),
    recordDir: options.recordDir,
    recordInput: options.recordInput ?? false,
    metrics: options.metrics,
    shareAccess: options.shareAccess,
    highWaterBytes,
    lowWaterBytes,
    ackBytes,
    maxMessageBytes: bytes('maxMessageBytes', options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES),
  };
}
