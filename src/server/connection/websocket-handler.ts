/**
 * One WebSocket connection: pick the wire format, authenticate, start the shell, move bytes both
 * ways under flow control, and close with the reasons; the shell's session is terminated after.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { WebSocket, type RawData } from 'ws';
import { ERRORS, type ErrorCode } from '../../protocol/errors.js';
import {
  MAX_COLS,
  MAX_ROWS,
  ProtocolError,
  SUBPROTOCOL_V1,
  type ClientMessage,
  type ExitStatus,
  type SessionEvent,
  type ViewerRole,
} from '../../protocol/v1.js';
import { AuthRefusal, isAccepted, type AuthResult } from '../auth/types.js';
import type { FlowTransition } from './flow-control.js';
import { Heartbeat } from './heartbeat.js';
import { checkOrigin } from '../http/origin-check.js';
import { InputGate } from './input-gate.js';
import {
  resolveHandlerOptions,
  type ResolvedHandlerOptions,
  type WebSocketHandlerOptions,
} from './handler-options.js';
import { createLogger, logDebugMin, type Logger, type LogLevel } from '../logger.js';
import { ResourceLimitError, spawnShell } from '../process/pty-process.js';
import { enqueueSpawn } from '../process/spawn-queue.js';
import { AsciicastRecorder } from '../session/recorder.js';
import { ShellSession, type JoinFrom, type JoinStart } from '../session/session.js';
import { ownerKey, SessionStore, type Leaving } from '../session/session-store.js';
import { Viewer, type ViewerPort } from '../session/viewer.js';
import { shellEnvironment } from '../process/shell-env.js';
import type { TerminateOptions, TerminateOutcome } from '../process/terminate.js';
import { LegacyWire } from './wire-legacy.js';
import { V1Wire } from './wire-v1.js';
import type { Opening, OutgoingFrame, Wire } from './wire.js';
import { VERSION } from '../version.js';

/** What `run()` resolves with once the connection and its shell are gone. */
export interface HandlerResult {
  /** Why the connection ended, in order (`shell exit code 0`, `WebSocket client disconnected`). */
  readonly reasons: readonly string[];
  readonly protocol: 'legacy' | 'v1';
  readonly authenticated: boolean;
  /** Who authenticated, when the auth callback said. */
  readonly identity: string | undefined;
  readonly sessionId: string | undefined;
  readonly shellPid: number | undefined;
  readonly exitStatus: ExitStatus | undefined;
  /** How the shell's session ended, when this connection ended it. */
  readonly termination: TerminateOutcome | undefined;
  /**
   * `terminated`: this connection ended its shell; `detached`: the shell waits for a resume;
   * `kept`: other pages still watch it; `taken-over`: another connection resumed it; `none`:
   * no shell was started.
   */
  readonly sessionFate: 'terminated' | 'detached' | 'kept' | 'taken-over' | 'none';
  /** True when this connection continued an existing session. */
  readonly resumed: boolean;
  /** The close code the socket ended with (1006 when it ended without a close frame). */
  readonly closeCode: number | undefined;
  /** Bytes typed into the shell and bytes of shell output sent. */
  readonly bytesIn: number;
  readonly bytesOut: number;
}

type Phase = 'opening' | 'authenticating' | 'running' | 'closing';

/** What ended the connection; decides whether the shell may wait for a resume. */
type Ending =
  | 'client'
  | 'client-done'
  | 'heartbeat'
  | 'shell-exit'
  | 'shutdown'
  | 'error'
  | 'taken-over'
  | 'removed';

/** The peer has this long to answer our close frame before the socket is cut. */
const CLOSE_HANDSHAKE_TIMEOUT_MS = 2000;
/** Frames a client may send ahead while its credential is checked or its shell starts. */
const MAX_PENDING_FRAMES = 256;
/** Bytes of such frames, at most (or one largest frame, when maxMessageBytes is larger). */
const MAX_PENDING_BYTES = 1024 * 1024;
/**
 * Bytes a client may send before its credential is accepted, frame headers included: a hello
 * with a 16 KiB JWT fits four times. Counted as they are read from the socket, so a stranger
 * cannot make us hold more than this and one read (64 KiB), whatever frames it announces.
 */
export const MAX_BYTES_BEFORE_AUTH = 64 * 1024;

const rootLoggers = new Map<LogLevel, Logger>();

/**
 * The shell environment, computed once per `env` option object rather than per connection:
 * reading all of process.env crosses into C++ for every variable. (A later change to
 * process.env itself is not seen; the server does not change it.)
 */
const shellEnvironments = new WeakMap<object, Record<string, string>>();

function cachedShellEnvironment(
  overrides: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  let env = shellEnvironments.get(overrides);
  if (env === undefined) {
    env = shellEnvironment(process.env, overrides);
    shellEnvironments.set(overrides, env);
  }
  return env;
}

function defaultLogger(level: LogLevel): Logger {
  let logger = rootLoggers.get(level);
  if (logger === undefined) {
    logger = createLogger({ level });
    rootLoggers.set(level, logger);
  }
  return logger;
}

/**
 * Close reasons are limited to 123 bytes of UTF-8 by RFC 6455; cut whole characters only (a
 * surrogate pair cut in half would not be valid UTF-8).
 */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= 123) {
    return text;
  }
  const characters = Array.from(text);
  let bytes = Buffer.byteLength(text);
  while (bytes > 123) {
    bytes -= Buffer.byteLength(characters.pop() as string);
  }
  return characters.join('');
}

/** The peer for logs: an IP address, or the UNIX socket a local proxy connected through. */
export function peerAddress(socket: { remoteAddress?: string | undefined } | undefined): string {
  if (socket === undefined) return 'unknown';
  return socket.remoteAddress ?? 'unix socket';
}

function describeExit(status: ExitStatus): string {
  if (status.signal !== null) {
    return `shell killed by signal ${status.signal}`;
  }
  // Both null: the spawner died before it could report the status (docs/spawner.md).
  return status.code === null ? 'shell exited, status unknown' : `shell exit code ${status.code}`;
}

function clamp(value: number, max: number): number {
  return Math.min(Math.max(value, 1), max);
}

const WS_METHODS = ['send', 'close', 'terminate', 'ping', 'pause', 'resume', 'on', 'off', 'once'];

/**
 * The shape of a ws WebSocket, checked instead of its class: a host app may hold another copy
 * of ws than ours (another version in its tree), whose sockets work the same.
 */
function isWebSocketLike(value: unknown): value is WebSocket {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const candidate = value as Record<string, unknown>;
  return (
    WS_METHODS.every((method) => typeof candidate[method] === 'function') &&
    typeof candidate.readyState === 'number'
  );
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class WebSocketHandler {
  private readonly _options: ResolvedHandlerOptions;
  private readonly _wire: Wire;
  private readonly _log: Logger;
  private _phase: Phase = 'opening';
  private _started = false;
  private readonly _reasons: string[] = [];
  private _authenticated = false;
  private _identity: string | undefined;
  private _owner = 'anyone';
  private _session: ShellSession | undefined;
  /** This connection on its session, once the hello was sent (only then may it resume). */
  private _viewer: Viewer | undefined;
  /** Where sessions live: the one given, or one of our own (no resume, nobody else attaches). */
  private readonly _store: SessionStore;
  /** The shell being started, if one is: settled before the session is. */
  private _starting: Promise<void> | undefined;
  private _resumed = false;
  /** The page asked for SESSION events. */
  private _wantsEvents = false;
  private _ending: Ending | undefined;
  private _exitStatus: ExitStatus | undefined;
  private _closeCode: number | undefined;
  private _bytesIn = 0;
  private _bytesOut = 0;
  private readonly _pending: Array<{ data: Buffer; isBinary: boolean }> = [];
  private _pendingBytes = 0;
  /** The raw socket, whose reads are counted until the credential is accepted. */
  private readonly _socket: Socket | undefined;
  private _bytesBeforeAuth = 0;
  /** Authentication is over (or not needed): the auth timer no longer applies. */
  private _authDone = false;
  /** Reading is paused while the credential is judged, and after too much came before it. */
  private _readingPaused = false;
  private _authTimer: NodeJS.Timeout | undefined;
  private _heartbeat: Heartbeat | undefined;
  private readonly _inputGate: InputGate;
  private _shellEnvCache: Record<string, string> | undefined;
  private _closeTimer: NodeJS.Timeout | undefined;
  private _resolveStopped!: () => void;
  private readonly _stopped = new Promise<void>((resolve) => (this._resolveStopped = resolve));
  private _resolveSocketClosed!: () => void;
  private readonly _socketClosed = new Promise<void>(
    (resolve) => (this._resolveSocketClosed = resolve),
  );
  private readonly _port: ViewerPort;

  /**
   * @param websocket an open `ws` WebSocket, from any server
   * @param options see WebSocketHandlerOptions; checked here, a bad one throws naming it
   */
  constructor(
    private readonly _ws: WebSocket,
    options: WebSocketHandlerOptions = {},
  ) {
    if (!isWebSocketLike(_ws)) {
      throw new TypeError(
        `websocket must be a WebSocket of the ws package (8.x) or have its API: ${WS_METHODS.join(', ')}, readyState`,
      );
    }
    this._options = resolveHandlerOptions(options);
    this._wire = _ws.protocol === SUBPROTOCOL_V1 ? new V1Wire() : new LegacyWire();
    const base = this._options.logger ?? defaultLogger(this._options.logLevel);
    this._log = base.child({ conn: this._options.logId ?? randomUUID() });
    this._inputGate = new InputGate(_ws, () => this._session?.inputBacklog ?? 0);
    this._socket = (_ws as unknown as { _socket?: Socket })._socket;
    const given = this._options.sessionStore;
    this._store =
      this._wire.capabilities.sessions && given !== undefined
        ? given
        : new SessionStore({ resumeWindow: 0, replayBufferBytes: 0, screenState: false });
    this._port = {
      output: (chunk) => this._viewerOnOutput(chunk),
      get bufferedAmount() {
        return _ws.bufferedAmount;
      },
      hearsEvents: () => this._wantsEvents,
      event: (event) => this._viewerOnEvent(event),
      fellBehind: () => this._viewerFellBehind(),
      exited: (status) => this._sessionOnExit(status),
      removed: (reason) => this._viewerOnRemoved(reason),
    };
  }

  /**
   * Ends the connection with a catalog error, as the handler itself does when something fails
   * (the ready server uses it to make room among connections that have not authenticated).
   */
  end(error: ErrorCode, detail?: string): void {
    this._ending ??= 'error';
    this._stop(detail === undefined ? ERRORS[error].reason : detail, error, undefined, detail);
  }

  /** Serves the connection; resolves when the socket is closed and the shell's session is gone. */
  async run(): Promise<HandlerResult> {
    if (this._started) {
      throw new Error('run() may be called only once per handler');
    }
    this._started = true;
    this._logOpen();
    const ws = this._ws;
    if (ws.readyState !== WebSocket.OPEN) {
      this._stop('WebSocket was not open');
      this._resolveSocketClosed();
    } else {
      this._listen();
      if (this._options.authCallback !== undefined) {
        this._socket?.on('data', this._socketOnDataBeforeAuth);
      }
      const origin = this._crossSiteOrigin();
      if (this._options.shutdownSignal?.aborted) {
        this._stop('server shutdown', 'XJS_ERR_SHUTDOWN');
      } else if (origin !== undefined) {
        this._log.warn(
          { origin, host: this._options.request?.headers.host },
          'refused a WebSocket from another origin (see allowedOrigins)',
        );
        this._ending = 'error';
        this._stop(`cross-site WebSocket from ${origin}`, 'XJS_ERR_ORIGIN_FORBIDDEN');
      } else {
        this._startAuthTimer();
        if (!this._wire.hasOpeningFrame(this._options.authCallback !== undefined)) {
          void this._begin({});
        }
      }
    }
    await this._stopped;
    await this._starting;
    const { fate, termination } = await this._settleSession();
    await this._socketClosed;
    this._dispose();
    this._log.info(
      { reasons: this._reasons, closeCode: this._closeCode, termination, sessionFate: fate },
      `closing the WebSocket connection: ${this._reasons.join('; ')}`,
    );
    return {
      reasons: [...this._reasons],
      protocol: this._wire.name,
      authenticated: this._authenticated,
      identity: this._identity,
      sessionId: this._session?.id,
      shellPid: this._session?.shell.pid,
      exitStatus: this._exitStatus,
      termination,
      sessionFate: fate,
      resumed: this._resumed,
      closeCode: this._closeCode,
      bytesIn: this._bytesIn,
      bytesOut: this._bytesOut,
    };
  }

  /**
   * The Origin of a browser page of another site, when the upgrade request was given and the
   * check is on (cross-site WebSocket hijacking: such a page could use the user's cookies or
   * network position); undefined when the connection may go on.
   */
  private _crossSiteOrigin(): string | undefined {
    const request = this._options.request;
    if (request === undefined || !this._options.checkOrigin) {
      return undefined;
    }
    const verdict = checkOrigin(request, this._options.allowedOrigins);
    return verdict.allowed ? undefined : verdict.origin;
  }

  private get _shellEnv(): Record<string, string> {
    this._shellEnvCache ??= cachedShellEnvironment(this._options.env);
    return this._shellEnvCache;
  }

  private _terminateOptions(): TerminateOptions {
    return {
      logoutWaitMs: this._options.shellLogoutWaitMs,
      terminateWaitMs: this._options.shellTerminateWaitMs,
      log: this._log,
    };
  }

  /**
   * After the connection stopped: this viewer leaves its session, and the store decides what
   * becomes of it (kept for the others, detached for a resume, or ended).
   */
  private async _settleSession(): Promise<{
    fate: HandlerResult['sessionFate'];
    termination: TerminateOutcome | undefined;
  }> {
    const session = this._session;
    if (session === undefined) {
      return { fate: 'none', termination: undefined };
    }
    if (this._ending === 'taken-over') {
      return { fate: 'taken-over', termination: undefined };
    }
    if (this._ending === 'removed') {
      return { fate: 'kept', termination: undefined };
    }
    if (this._viewer === undefined) {
      // Started while the client left, never shown to anyone: nothing to keep.
      const termination = this._store.ownerOf(session)
        ? this._store.end(session)
        : session.terminate(this._terminateOptions());
      return { fate: 'terminated', termination: await termination };
    }
    session.leave(this._viewer);
    const vanished = this._ending === 'client' || this._ending === 'heartbeat';
    const how: Leaving =
      session.exitStatus !== undefined ? 'exited' : vanished ? 'vanished' : 'done';
    const left = this._store.left(session, how);
    if (left.fate === 'detached') {
      this._log.info(
        { sessionId: session.id, resumeWindowSeconds: this._store.resumeWindowMs / 1000 },
        'shell detached; waiting for the client to resume',
      );
      return { fate: 'detached', termination: undefined };
    }
    if (left.fate === 'kept') {
      this._log.info(
        { sessionId: session.id, viewers: session.viewers.length },
        'left the session; other pages still watch it',
      );
      return { fate: 'kept', termination: undefined };
    }
    return { fate: 'terminated', termination: await left.termination };
  }

  private _logOpen(): void {
    const request = this._options.request;
    const socket =
      request?.socket ?? (this._ws as unknown as { _socket?: { remoteAddress?: string } })._socket;
    const forwardedFor = request?.headers['x-forwarded-for'];
    this._log.info(
      {
        peer: peerAddress(socket),
        ...(forwardedFor !== undefined ? { forwardedFor } : {}),
        protocol: this._wire.name,
      },
      'new WebSocket connection',
    );
  }

  private _listen(): void {
    this._ws.on('message', this._socketOnMessage);
    this._ws.on('close', this._socketOnClose);
    this._ws.on('error', this._socketOnError);
    this._options.shutdownSignal?.addEventListener('abort', this._shutdownOnAbort, { once: true });
    if (this._options.pingIntervalMs > 0) {
      this._heartbeat = new Heartbeat(
        this._ws,
        this._options.pingIntervalMs,
        this._heartbeatOnTimeout,
        this._heartbeatOnPing,
      );
    }
  }

  private _dispose(): void {
    this._ws.off('message', this._socketOnMessage);
    this._ws.off('close', this._socketOnClose);
    this._ws.off('error', this._socketOnError);
    this._options.shutdownSignal?.removeEventListener('abort', this._shutdownOnAbort);
    clearTimeout(this._authTimer);
    clearTimeout(this._closeTimer);
    this._socket?.off('data', this._socketOnDataBeforeAuth);
    this._heartbeat?.dispose();
    this._inputGate.dispose();
    this._pending.length = 0;
  }

  private _startAuthTimer(): void {
    this._authTimer = setTimeout(this._authTimerOnExpire, this._options.authTimeoutMs);
  }

  private readonly _authTimerOnExpire = (): void => {
    // One more turn first: after a stalled event loop, timers run before the poll phase, and a
    // credential already waiting in the socket must be read before the client is judged.
    setImmediate(this._authTimerJudge);
  };

  private readonly _authTimerJudge = (): void => {
    // A credential accepted meanwhile stands, even while its shell is still starting.
    if (!this._authDone && (this._phase === 'opening' || this._phase === 'authenticating')) {
      this._options.metrics?.authFailed('timeout');
      this._stop('authentication timed out', 'XJS_ERR_AUTH_TIMEOUT');
    }
  };

  private readonly _heartbeatOnPing = (): void => {
    if (this._phase === 'running') {
      this._send(this._wire.heartbeat());
    }
  };

  private readonly _heartbeatOnTimeout = (): void => {
    this._log.warn('peer stopped answering pings; cutting the connection');
    this._ending ??= 'heartbeat';
    this._stop('heartbeat timeout: peer stopped answering pings', 'XJS_ERR_HEARTBEAT_TIMEOUT');
    // A peer that does not answer pings will not answer a close frame either.
    this._ws.terminate();
  };

  private readonly _shutdownOnAbort = (): void => {
    this._ending ??= 'shutdown';
    this._stop('server shutdown', 'XJS_ERR_SHUTDOWN');
  };

  private readonly _socketOnError = (error: Error): void => {
    // ws follows every error with 'close'; the reason is recorded there. Its own errors
    // (WS_ERR_*: a frame too big, bad UTF-8, a bad opcode) are the peer breaking the protocol,
    // not a lost network: such a session is ended, not kept for a resume.
    if ((error as NodeJS.ErrnoException).code?.startsWith('WS_ERR_') === true) {
      this._ending ??= 'error';
    }
    logDebugMin(this._log, { err: error.message }, 'WebSocket error');
  };

  private readonly _socketOnClose = (code: number): void => {
    this._closeCode = code;
    clearTimeout(this._closeTimer);
    // 1000 is a client that is done; anything else (1001 reload, 1006 lost) may come back.
    this._ending ??= code === 1000 ? 'client-done' : 'client';
    this._stop('WebSocket client disconnected');
    this._resolveSocketClosed();
  };

  private readonly _socketOnMessage = (raw: RawData, isBinary: boolean): void => {
    const data = toBuffer(raw);
    switch (this._phase) {
      case 'running':
        this._handleMessage(data, isBinary);
        return;
      case 'opening':
        this._phase = 'authenticating';
        this._handleOpening(data, isBinary);
        return;
      case 'authenticating':
        this._pendingBytes += data.length;
        if (this._pending.length >= MAX_PENDING_FRAMES) {
          this._stop(
            'protocol error: too many frames before the shell started',
            'XJS_ERR_PROTOCOL',
          );
        } else if (
          this._pendingBytes > Math.max(MAX_PENDING_BYTES, this._options.maxMessageBytes)
        ) {
          this._stop('protocol error: too much data before the shell started', 'XJS_ERR_PROTOCOL');
        } else {
          this._pending.push({ data, isBinary });
        }
        return;
      case 'closing':
        return;
    }
  };

  /** Counts what a client sends before its credential is accepted; too much ends it (F1). */
  private readonly _socketOnDataBeforeAuth = (chunk: Buffer): void => {
    this._bytesBeforeAuth += chunk.length;
    if (this._bytesBeforeAuth <= MAX_BYTES_BEFORE_AUTH || this._isClosing()) {
      return;
    }
    this._log.warn(
      { bytes: this._bytesBeforeAuth, limit: MAX_BYTES_BEFORE_AUTH },
      'protocol error: too much data before authentication',
    );
    // Read no more: the close frame still goes out, and the close timer cuts the socket.
    this._pauseReading();
    this._stop(
      'protocol error: too much data before authentication',
      'XJS_ERR_PROTOCOL',
      undefined,
      `more than ${MAX_BYTES_BEFORE_AUTH / 1024} KiB sent before authentication`,
    );
  };

  private _pauseReading(): void {
    this._readingPaused = true;
    this._ws.pause();
  }

  private _resumeReading(): void {
    if (this._readingPaused) {
      this._readingPaused = false;
      this._ws.resume();
    }
  }

  private _handleOpening(data: Buffer, isBinary: boolean): void {
    let opening: Opening;
    try {
      opening = this._wire.parseOpening(data, isBinary);
    } catch (error) {
      this._protocolError(error);
      return;
    }
    void this._begin(opening);
  }

  /** Authenticates (when configured), then starts the shell and replays early frames. */
  private async _begin(opening: Opening): Promise<void> {
    this._phase = 'authenticating';
    if (opening.share !== undefined) {
      await this._beginShared(opening, opening.share);
      return;
    }
    if (this._options.authCallback !== undefined) {
      if (opening.credential === undefined) {
        // A page without a credential asks whether this server wants one: no guess was made,
        // so the callback (and the failed-attempt throttle around it) is not bothered.
        logDebugMin(this._log, {}, 'no credential offered; authentication required');
        this._stop(
          'authentication required',
          'XJS_ERR_AUTH_FAILED',
          undefined,
          'a credential is required',
        );
        return;
      }
      // Nothing more is read while the credential is judged (the throttle may hold a refusal
      // for seconds): what the client sends meanwhile waits in its socket, not in our memory.
      this._pauseReading();
      const result = await this._authenticate(opening.credential ?? '');
      if (this._isClosing()) {
        return; // timed out, disconnected or shut down while the callback ran
      }
      this._resumeReading();
      if (result instanceof AuthRefusal) {
        this._log.info({ err: result.message }, 'authentication refused');
        this._options.metrics?.authFailed(
          result.code === 'XJS_ERR_AUTH_THROTTLED' ? 'throttled' : 'refused',
        );
        this._stop(`authentication refused: ${result.message}`, result.code);
        return;
      }
      if (result === false || result === 'error') {
        this._log.info('authentication failed');
        this._options.metrics?.authFailed(result === 'error' ? 'error' : 'refused');
        this._stop('authentication failed', 'XJS_ERR_AUTH_FAILED');
        return;
      }
      this._authenticated = true;
      this._identity = result === true ? undefined : result.identity;
      this._owner = ownerKey(this._identity, opening.credential ?? '');
      this._log.info(
        this._identity === undefined ? {} : { identity: this._identity },
        'authentication succeeded',
      );
    }
    this._authenticationOver(opening);
    if (opening.resume !== undefined || opening.attach !== undefined) {
      this._joinExisting(opening);
      return;
    }
    // Frames that arrive meanwhile wait in _pending, as during authentication.
    enqueueSpawn(() => {
      if (!this._isClosing()) {
        this._starting = this._startShell(opening);
      }
    });
  }

  /** A page that came through a share link: it joins that session, with that link's role. */
  private async _beginShared(opening: Opening, secret: string): Promise<void> {
    const access = this._options.shareAccess;
    if (access === undefined || !this._wire.capabilities.sessions) {
      this._stop('share link on a server without share links', 'XJS_ERR_SHARE_REVOKED');
      return;
    }
    this._pauseReading();
    let share;
    try {
      share = await access(secret, this._log);
    } catch (error) {
      if (this._isClosing()) return;
      const refusal = error instanceof AuthRefusal ? error : undefined;
      this._log.info({ err: (error as Error).message }, 'share link refused');
      this._options.metrics?.authFailed(refusal !== undefined ? 'throttled' : 'error');
      this._stop('share link refused', refusal?.code ?? 'XJS_ERR_SHARE_REVOKED');
      return;
    }
    if (this._isClosing()) {
      return;
    }
    this._resumeReading();
    if (share === undefined) {
      this._log.info('share link refused: unknown, revoked or expired');
      this._options.metrics?.authFailed('refused');
      this._stop('share link refused', 'XJS_ERR_SHARE_REVOKED');
      return;
    }
    this._authenticated = true;
    this._owner = `share:${share.id}`;
    this._authenticationOver(opening);
    const session = this._store.get(share.sessionId);
    if (session === undefined || (opening.resume?.sessionId ?? share.sessionId) !== session.id) {
      this._ending = 'error';
      this._stop('share of a session that is gone', 'XJS_ERR_SESSION_NOT_FOUND');
      return;
    }
    const from: JoinFrom = opening.resume?.offset ?? 'replay';
    if (this._beyondOutput(session, from)) {
      return;
    }
    this._log.info({ shareId: share.id, role: share.role }, 'joined through a share link');
    this._resumed = true;
    this._join(session, from, share.role, opening, share.id);
  }

  /** Authentication is over (accepted, or not needed): its timer and byte count stop. */
  private _authenticationOver(opening: Opening): void {
    this._authDone = true;
    clearTimeout(this._authTimer);
    this._socket?.off('data', this._socketOnDataBeforeAuth);
    this._wantsEvents = opening.events === true;
  }

  /** A resume from past the end of the output is a protocol error (the session goes on). */
  private _beyondOutput(session: ShellSession, from: JoinFrom): boolean {
    if (typeof from !== 'number' || from <= session.offset) {
      return false;
    }
    this._protocolError(
      new ProtocolError(`resume: offset ${from} is outside 0..${session.offset}`),
    );
    return true;
  }

  /**
   * The callback's verdict; a throw is a refusal too, counted apart as an error, unless it is an
   * AuthRefusal with a code of its own.
   */
  private async _authenticate(credential: string): Promise<AuthResult | 'error' | AuthRefusal> {
    const callback = this._options.authCallback;
    try {
      const result = await callback?.(credential, this._ws, this._log);
      return isAccepted(result) ? result : false;
    } catch (error) {
      if (error instanceof AuthRefusal) {
        return error;
      }
      this._log.error(
        { err: error instanceof Error ? error.message : String(error) },
        'auth callback threw; refusing',
      );
      return 'error';
    }
  }

  private async _startShell(opening: Opening): Promise<void> {
    const options = this._options;
    const cols = clamp(opening.cols ?? 80, MAX_COLS);
    const rows = clamp(opening.rows ?? 24, MAX_ROWS);
    let session: ShellSession;
    try {
      const shell = await spawnShell(options.userShellCommand, {
        cols,
        rows,
        env: this._shellEnv,
        ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
        signal: options.shutdownSignal,
        log: this._log,
      });
      session = new ShellSession(
        shell,
        this._store.replayBufferBytes,
        { cols, rows },
        options.userShellCommand,
        this._store.screenState,
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // Out of descriptors or ptys is the operator's to fix (a warning); anything else an error.
      const level = error instanceof ResourceLimitError ? 'warn' : 'error';
      this._log[level](
        { err: message, command: options.userShellCommand },
        'unable to start shell',
      );
      options.metrics?.spawnFailed();
      // The client is authenticated: telling it why helps it fix the server's command.
      this._stop(`unable to start shell: ${message}`, 'XJS_ERR_SPAWN_FAILED', undefined, message);
      return;
    }
    this._session = session;
    if (this._isClosing()) {
      // The client left while the shell started: the session is settled (ended) with the rest.
      this._log.info({ shellPid: session.shell.pid }, 'shell started after the client left');
      return;
    }
    try {
      this._store.add(session, this._owner, this._terminateOptions());
      options.metrics?.sessionStarted(session);
      if (options.recordDir !== undefined) {
        this._record(session, cols, rows);
      }
      this._log.info(
        { shellPid: session.shell.pid, command: options.userShellCommand, sessionId: session.id },
        'shell started',
      );
      this._join(session, 'live', 'owner', opening);
    } catch (error) {
      // A bug past the spawn must not leave a shell nobody ends: settling ends this one.
      this._log.error({ err: String(error) }, 'starting the session failed after the spawn');
      this._ending = 'error';
      this._stop('internal error while starting the session', 'XJS_ERR_INTERNAL');
    }
  }

  private _record(session: ShellSession, cols: number, rows: number): void {
    try {
      const recorder = new AsciicastRecorder({
        dir: this._options.recordDir as string,
        sessionId: session.id,
        cols,
        rows,
        input: this._options.recordInput,
        env: { TERM: this._shellEnv.TERM ?? '', SHELL: this._options.userShellCommand[0] ?? '' },
        log: this._log,
        onFailure: () => this._options.metrics?.recordingFailed?.(),
      });
      session.addObserver(recorder);
      logDebugMin(this._log, { path: recorder.path }, 'recording the session');
    } catch (error) {
      this._log.error({ err: (error as Error).message }, 'cannot record the session');
      this._options.metrics?.recordingFailed?.();
    }
  }

  /**
   * Resume (the same page back, from its offset: it takes the place of the owner's pages still
   * attached) or attach (one more page, from as far back as the replay reaches).
   */
  private _joinExisting(opening: Opening): void {
    const resume = opening.resume;
    const id = resume?.sessionId ?? opening.attach ?? '';
    const what = resume !== undefined ? 'resume' : 'attach';
    const found = this._wire.capabilities.sessions ? this._store.find(id, this._owner) : undefined;
    if (found === undefined || !found.found) {
      const forbidden = found !== undefined && found.reason === 'forbidden';
      this._log.info(
        { sessionId: id, forbidden },
        `${what} refused: no such session for this credential`,
      );
      this._ending = 'error';
      this._stop(
        forbidden ? `${what} of another credential's session` : `${what} of an unknown session`,
        forbidden ? 'XJS_ERR_SESSION_FORBIDDEN' : 'XJS_ERR_SESSION_NOT_FOUND',
      );
      return;
    }
    const session = found.session;
    const from: JoinFrom = resume !== undefined ? resume.offset : 'replay';
    if (this._beyondOutput(session, from)) {
      return;
    }
    if (resume !== undefined) {
      // The same page back on a new socket: it takes the place of its old self, which the
      // server may still hold (its network died); other screens of the credential stay.
      for (const viewer of session.viewers) {
        const same =
          resume.viewerId !== undefined ? viewer.id === resume.viewerId : viewer.role === 'owner';
        if (same && viewer.owner === this._owner) {
          viewer.port.removed('taken-over');
        }
      }
    }
    this._resumed = true;
    this._join(session, from, 'owner', opening);
  }

  /** Says hello, sends what the page has not seen, and connects it to live output. */
  private _join(
    session: ShellSession,
    from: JoinFrom,
    role: ViewerRole,
    opening: Opening,
    shareId?: string,
  ): void {
    const start = session.prepare(from);
    const snapshots = opening.snapshot === true && this._wire.capabilities.sessions;
    if (!snapshots || start.lostBytes === 0 || !session.keepsScreen) {
      this._joinAt(session, { slice: start }, from, role, opening, shareId);
      return;
    }
    // The page would miss output: it waits for the screen instead. It is not a viewer yet, so
    // settling does not see the session; a page that leaves meanwhile hands it to the store,
    // which detaches it as if that page had vanished (a resume had taken its old page's place).
    session.prepareJoin(from, true).then(
      (joinStart) => {
        if (this._isClosing()) {
          if (this._store.ownerOf(session) !== undefined) {
            this._store.left(session, 'vanished');
          }
          return;
        }
        if (this._store.ownerOf(session) === undefined) {
          this._ending = 'error';
          this._stop('the session ended while its screen was taken', 'XJS_ERR_SESSION_NOT_FOUND');
          return;
        }
        this._joinAt(session, joinStart, from, role, opening, shareId);
      },
      (error: unknown) => {
        this._log.error({ err: String(error) }, 'taking the screen for a join failed');
        this._ending = 'error';
        this._stop('internal error while joining the session', 'XJS_ERR_INTERNAL');
      },
    );
  }

  private _joinAt(
    session: ShellSession,
    start: JoinStart,
    from: JoinFrom,
    role: ViewerRole,
    opening: Opening,
    shareId?: string,
  ): void {
    const options = this._options;
    const store = this._store;
    const { slice, snapshot } = start;
    const viewer = new Viewer(this._port, {
      role,
      owner: this._owner,
      highWaterBytes: options.highWaterBytes,
      lowWaterBytes: options.lowWaterBytes,
      acknowledged: this._wire.capabilities.acknowledged,
      ...(shareId !== undefined ? { shareId } : {}),
      cols: clamp(opening.cols ?? session.cols, MAX_COLS),
      rows: clamp(opening.rows ?? session.rows, MAX_ROWS),
    });
    this._session = session;
    this._viewer = viewer;
    store.joined(session);
    if (this._resumed) {
      this._log.info(
        {
          sessionId: session.id,
          shellPid: session.shell.pid,
          offset: slice.offset,
          lostBytes: slice.lostBytes,
          replayBytes: session.offset - slice.offset,
          viewers: session.viewers.length + 1,
          role,
          ...(snapshot !== undefined
            ? { snapshotBytes: snapshot.data.length, snapshotDirty: snapshot.dirty }
            : {}),
        },
        from === 'replay' ? 'attached to the session' : 'session resumed',
      );
    }
    if (role !== 'reader' && from !== 'replay') {
      // The page that comes back drives the size again; one that only attaches waits to type.
      session.resize(viewer, viewer.cols, viewer.rows);
    }
    this._send(
      this._wire.hello({
        sessionId: session.id,
        serverVersion: VERSION,
        offset: slice.offset,
        resumed: this._resumed,
        lostBytes: slice.lostBytes,
        liveOffset: session.offset,
        limits: {
          maxMessageBytes: options.maxMessageBytes,
          ackBytes: options.ackBytes,
          highWaterBytes: options.highWaterBytes,
          replayBufferBytes: store.replayBufferBytes,
          resumeWindowSeconds: store.resumeWindowMs / 1000,
          heartbeatSeconds: options.pingIntervalMs / 1000,
        },
        role,
        cols: session.cols,
        rows: session.rows,
        ...(snapshot !== undefined ? { snapshot: true } : {}),
      }),
    );
    if (snapshot !== undefined) {
      this._send(this._wire.snapshot(snapshot));
    }
    this._phase = 'running';
    session.join(viewer, slice);
    if (session.exitStatus !== undefined) {
      this._sessionOnExit(session.exitStatus); // it exited while detached
      return;
    }
    this._pendingBytes = 0;
    for (const { data, isBinary } of this._pending.splice(0)) {
      if (this._isClosing()) {
        break; // after a bad frame nothing more reaches the shell
      }
      this._handleMessage(data, isBinary);
    }
  }

  /** The session let go of this page: another took its place, its link ended, or the session. */
  private _viewerOnRemoved(reason: 'taken-over' | 'revoked' | 'ended'): void {
    if (this._viewer !== undefined) {
      this._session?.leave(this._viewer);
    }
    // The session goes on (or ends) without this page: settling must not decide its fate.
    this._ending = reason === 'taken-over' ? 'taken-over' : 'removed';
    if (reason === 'taken-over') {
      this._log.info({ sessionId: this._session?.id }, 'session taken over by another connection');
      this._stop('session taken over by another connection', 'XJS_ERR_SESSION_TAKEN_OVER');
    } else if (reason === 'revoked') {
      this._log.info({ sessionId: this._session?.id }, 'cut off: share link revoked or expired');
      this._stop('share link revoked or expired', 'XJS_ERR_SHARE_REVOKED');
    } else {
      this._log.info({ sessionId: this._session?.id }, 'the session was ended');
      this._stop('the session was ended', 'XJS_ERR_SESSION_ENDED');
    }
  }

  private _handleMessage(data: Buffer, isBinary: boolean): void {
    let message: ClientMessage;
    try {
      message = this._wire.parse(data, isBinary);
    } catch (error) {
      this._protocolError(error);
      return;
    }
    const session = this._session as ShellSession;
    const viewer = this._viewer as Viewer;
    switch (message.type) {
      case 'input':
        if (!session.write(viewer, message.data as Buffer)) {
          this._stop('input from a read-only page', 'XJS_ERR_READ_ONLY');
          return;
        }
        this._bytesIn += message.data.length;
        this._inputGate.written();
        return;
      case 'resize': {
        const cols = clamp(message.cols, MAX_COLS);
        const rows = clamp(message.rows, MAX_ROWS);
        logDebugMin(this._log, { cols, rows }, 'terminal resized');
        session.resize(viewer, cols, rows); // a reader's size is kept, never applied
        return;
      }
      case 'ack': {
        let transition: FlowTransition;
        try {
          transition = viewer.acknowledged(message.offset);
        } catch (error) {
          this._protocolError(new ProtocolError((error as Error).message));
          return;
        }
        this._flowChanged(transition);
        return;
      }
      case 'hello':
        return; // the wire refuses a second hello already
    }
  }

  private _viewerOnOutput(chunk: Buffer): void {
    this._bytesOut += chunk.length;
    const frame = this._wire.output(chunk);
    if (frame !== undefined) {
      this._send(frame);
    }
  }

  private _viewerOnEvent(event: SessionEvent): void {
    if (this._wantsEvents) {
      this._send(this._wire.sessionEvent(event));
    }
  }

  private _sessionOnExit(status: ExitStatus): void {
    this._exitStatus = status;
    this._ending ??= 'shell-exit';
    const reason = describeExit(status);
    this._send(this._wire.flushOutput());
    this._send(this._wire.exit(status));
    this._stop(reason, undefined, { code: 1000, reason });
  }

  private readonly _socketOnSent = (): void => {
    if (this._viewer?.behind === true) {
      this._flowChanged(this._viewer.drained());
    }
  };

  private _flowChanged(transition: FlowTransition): void {
    const viewer = this._viewer;
    if (transition === undefined || viewer === undefined || this._session === undefined) {
      return;
    }
    if (transition === 'resume') {
      logDebugMin(this._log, {}, 'output resumed');
    }
    this._session.flowChanged(viewer, transition);
  }

  private _viewerFellBehind(): void {
    logDebugMin(
      this._log,
      { unacknowledged: this._viewer?.unacknowledged, buffered: this._ws.bufferedAmount },
      'output paused',
    );
    this._options.metrics?.flowPaused();
  }

  private _send(frame: OutgoingFrame | undefined): void {
    if (frame !== undefined && this._ws.readyState === WebSocket.OPEN) {
      this._ws.send(frame.data, { binary: frame.binary }, this._socketOnSent);
    }
  }

  /** A method, not a field read, so the compiler does not assume it unchanged across awaits. */
  private _isClosing(): boolean {
    return this._phase === 'closing';
  }

  private _protocolError(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this._log.warn({ err: message }, 'protocol error');
    this._stop(`protocol error: ${message}`, 'XJS_ERR_PROTOCOL', undefined, message);
  }

  /**
   * Ends the connection once, for `reason`: tells the client why (an error frame and its close
   * code, or the given close), then the run() continues with termination.
   */
  private _stop(
    reason: string,
    error?: ErrorCode,
    close?: { code: number; reason: string },
    detail?: string,
  ): void {
    if (this._phase === 'closing') {
      return;
    }
    this._phase = 'closing';
    this._reasons.push(reason);
    clearTimeout(this._authTimer);
    if (this._bytesBeforeAuth <= MAX_BYTES_BEFORE_AUTH) {
      this._resumeReading(); // the peer's close frame must be read to end cleanly
    }
    if (this._ws.readyState === WebSocket.OPEN) {
      let code = close?.code ?? 1000;
      let text = close?.reason ?? reason;
      if (error !== undefined) {
        const info = ERRORS[error];
        const message = detail === undefined ? info.reason : `${info.reason}: ${detail}`;
        this._send(this._wire.error(error, message));
        code = info.closeCode;
        text = message;
      }
      this._ws.close(code, closeReason(text));
    }
    // Also when ws began the close itself (a frame it refused): the peer may never answer, and
    // ws's own timer would hold the socket for 30 s.
    if (this._ws.readyState === WebSocket.CLOSING) {
      this._closeTimer = setTimeout(this._closeTimerOnExpire, CLOSE_HANDSHAKE_TIMEOUT_MS);
    }
    this._resolveStopped();
  }

  private readonly _closeTimerOnExpire = (): void => {
    logDebugMin(this._log, {}, 'peer did not complete the close handshake; cutting the socket');
    this._ws.terminate();
  };
}

/**
 * Turns a connection away before any handler runs (the server is full): the client gets the
 * error in its own wire format and the matching close code.
 */
export function refuseConnection(ws: WebSocket, error: ErrorCode): void {
  const wire: Wire = ws.protocol === SUBPROTOCOL_V1 ? new V1Wire() : new LegacyWire();
  const info = ERRORS[error];
  const frame = wire.error(error, info.reason);
  ws.send(frame.data, { binary: frame.binary });
  ws.close(info.closeCode, closeReason(info.reason));
  const timer = setTimeout(() => ws.terminate(), CLOSE_HANDSHAKE_TIMEOUT_MS);
  ws.once('close', () => clearTimeout(timer));
}
