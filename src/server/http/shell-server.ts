/**
 * The ready server: one node:http server that serves the page, /healthz, and the WebSocket
 * upgrade on the page's own URL, handing each connection to a WebSocketHandler.
 * @module
 */
import { EventEmitter, setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { SUBPROTOCOL_V1 } from '../../protocol/v1.js';
import { AuthThrottle, throttleKey, type AuthThrottleOptions } from '../auth/throttle.js';
import { createTokenAuth, generateToken } from '../auth/token.js';
import { parseTrustedProxies, type TrustedProxies } from '../auth/trusted-proxies.js';
import { AuthRefusal, isAccepted, type AuthCallback, type AuthResult } from '../auth/types.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  resolveHandlerOptions,
  type ShareAccess,
  type WebSocketHandlerOptions,
} from '../connection/handler-options.js';
import { IdleTimer } from './idle-timer.js';
import { listenOn, type ListenAddress, type ListenTarget, type Listener } from './listen.js';
import { createLogger, type Logger } from '../logger.js';
import { ownerKey, SessionStore, type SessionStoreOptions } from '../session/session-store.js';
import { SHARE_PREFIX, ShareStore, type Share } from '../session/share-store.js';
import {
  WebSocketHandler,
  peerAddress,
  refuseConnection,
  type HandlerResult,
} from '../connection/websocket-handler.js';
import { Admission, type Candidate } from './admission.js';
import { ServerMetrics } from './metrics.js';
import { SessionApi, sendApiError } from './session-api.js';
import { checkOrigin, isRebindingSafeHost, normaliseOrigin } from './origin-check.js';
import { StaticAssets } from './static-assets.js';

export interface ShellServerOptions extends Omit<
  WebSocketHandlerOptions,
  'authCallback' | 'logId' | 'shutdownSignal' | 'request' | 'sessionStore' | 'metrics'
> {
  /**
   * `'token'`: a static token (`token`, else a random one, see `ShellServer.token`);
   * `'none'`: no authentication; or an auth callback of your own. @default 'token'
   */
  readonly auth?: 'token' | 'none' | AuthCallback;
  /** The token for `auth: 'token'`, at least 16 characters. @default a random 43-character token */
  readonly token?: string;
  /** Origins allowed besides the server's own host, such as `https://console.example.com`. */
  readonly allowedOrigins?: readonly string[];
  /**
   * Origins whose pages may show the page in a frame (CSP `frame-ancestors`), such as
   * `https://console.example.com`. @default none: the page cannot be framed
   */
  readonly frameAncestors?: readonly string[];
  /**
   * Authenticated connections served at once; one more is closed with XJS_ERR_SERVER_FULL once
   * its credential is accepted. Connections still authenticating are counted apart (see
   * `maxUnauthenticated`), so strangers cannot fill these places. @default 1024
   */
  readonly maxConnections?: number;
  /**
   * Connections that have not authenticated yet, at most; when full, the oldest of them that
   * has not sent a credential is closed with XJS_ERR_TOO_MANY_UNAUTHENTICATED to make room.
   * @default 256
   */
  readonly maxUnauthenticated?: number;
  /** Of those, from one peer (its address, or its X-Forwarded-For from a trusted proxy). @default 32 */
  readonly maxUnauthenticatedPerPeer?: number;
  /**
   * Proxies whose `X-Forwarded-For` names the peer for the throttle and the limits above: IP
   * addresses, CIDR ranges (`10.0.0.0/8`) or `'unix'` (connections through a UNIX socket).
   * Everyone else's header is ignored. @default none
   */
  readonly trustedProxies?: readonly string[];
  /** The directory of the built page. @default the page bundled with this package */
  readonly clientDir?: string;
  /**
   * Slows down guessing: after a few failed attempts from one peer, each further refusal is
   * answered after a doubling delay, and a peer with `maxHeld` refusals waiting is refused
   * unchecked; a right credential is never delayed. `false` turns it off. Applies to every auth
   * mode but `'none'`.
   * @default { freeAttempts: 3, baseDelay: 0.5, maxDelay: 4, maxHeld: 8, maxPeers: 10000 }
   */
  readonly authThrottle?: AuthThrottleOptions | false;
  /**
   * Seconds a client has to send a request's headers (slow-handshake defence); at most 30, the
   * time allowed for a whole request. @default 10
   */
  readonly headersTimeout?: number;
  /**
   * Seconds a v1 shell whose connection dropped waits for its page to resume it; 0 ends shells
   * with their connection, as the original did. @default 60
   */
  readonly resumeWindow?: number;
  /**
   * The longest a share link may live, in seconds; a request for longer is refused (400).
   * @default 86400
   */
  readonly maxShareLifetime?: number;
  /** Bytes of recent output each session keeps for a resuming page. @default 1048576 */
  readonly replayBufferBytes?: number;
  /**
   * Keep each session's screen on the server, so a page that joins or resumes after more
   * output than the replay buffer gets the exact screen; false: the replay only.
   * @default {} (on, scrollbackLines 1000)
   */
  readonly screenState?: SessionStoreOptions['screenState'];
  /**
   * Serve Prometheus metrics at `/metrics`. With authentication on, a scraper sends the
   * server's credential as `Authorization: Bearer …` (throttled like any attempt); with
   * `auth: 'none'` only requests for a Host that cannot be rebound are answered. @default false
   */
  readonly metrics?: boolean;
  /**
   * Seconds the server may stay idle (no connection, no shell kept for resume) before it emits
   * `idle-timeout`; the countdown starts when it begins listening. The CLI's `--exit-when-idle`
   * then closes it. Page loads and /healthz do not count as activity. @default undefined (never)
   */
  readonly idleTimeout?: number;
}

export interface ShellServer extends EventEmitter<ShellServerEvents> {
  readonly httpServer: Server;
  /** The token clients must send, for `auth: 'token'`; undefined otherwise. */
  readonly token: string | undefined;
  /** Connections being served now. */
  readonly connections: number;
  /** Shells kept for a resume while no connection holds them. */
  readonly detachedSessions: number;
  /** Where the server listens, in the order of the targets given to `listen` (empty before). */
  readonly addresses: readonly ListenAddress[];
  /** Listens on TCP; resolves with the bound address. */
  listen(port: number, host?: string): Promise<AddressInfo>;
  /**
   * Listens on each target: a TCP host and port, a UNIX socket file (with its mode; a stale file
   * is replaced, a live one refused) or inherited descriptors (systemd); resolves with where, in
   * order. A failure closes what was opened. Call once.
   */
  listen(targets: ListenTarget | readonly ListenTarget[]): Promise<ListenAddress[]>;
  /**
   * Stops listening, ends every connection with 1001 (terminating each shell gracefully) and
   * resolves when all are gone.
   */
  close(): Promise<void>;
}

/**
 * The server's events, typed: a misspelt name or a wrong listener does not compile.
 * `connection-end` after each connection; `idle` when none is left (and no shell waits for a
 * resume); `idle-timeout` when it stayed idle for `idleTimeout` seconds.
 */
export interface ShellServerEvents {
  'connection-end': [result: HandlerResult];
  idle: [];
  'idle-timeout': [];
}

const DEFAULT_MAX_CONNECTIONS = 1024;
const DEFAULT_MAX_UNAUTHENTICATED = 256;
const DEFAULT_MAX_UNAUTHENTICATED_PER_PEER = 32;

function positiveWhole(name: string, value: number | undefined, fallback: number): number {
  const chosen = value ?? fallback;
  if (!Number.isSafeInteger(chosen) || chosen < 1) {
    throw new RangeError(`options.${name} must be a positive whole number`);
  }
  return chosen;
}

/** The credential of an HTTP request: `Authorization: Bearer <token or JWT>`. */
function bearerCredential(request: IncomingMessage): string | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '');
  return match?.[1];
}

/** The page's security headers; `frameAncestors` are the origins that may show it in a frame. */
function securityHeaders(frameAncestors: readonly string[]): Record<string, string> {
  const framing = frameAncestors.length === 0 ? "'none'" : frameAncestors.join(' ');
  return {
    // Only our own assets; xterm.js sets inline styles, so style-src needs 'unsafe-inline'.
    'Content-Security-Policy': `default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors ${framing}`,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    // X-Frame-Options cannot name origins; where it would deny them, CSP decides alone.
    ...(frameAncestors.length === 0 ? { 'X-Frame-Options': 'DENY' } : {}),
    'Cross-Origin-Opener-Policy': 'same-origin',
  };
}

/** Normalised http(s) origins of an option, or a TypeError naming it. */
function originsOption(name: string, origins: readonly string[] | undefined): string[] {
  return (origins ?? []).map((origin) => {
    const normalised = normaliseOrigin(origin);
    if (normalised === undefined) {
      throw new TypeError(`options.${name}: not an http(s) origin: ${origin}`);
    }
    return normalised;
  });
}

function defaultClientDir(): string {
  // dist/server/http -> dist/client (src/server/http -> dist/client when run from source)
  return fileURLToPath(new URL('../../../dist/client', import.meta.url));
}

function resolveAuth(options: ShellServerOptions): {
  callback: AuthCallback | undefined;
  token: string | undefined;
} {
  const auth = options.auth ?? 'token';
  if (typeof auth === 'function') {
    return { callback: auth, token: undefined };
  }
  if (auth === 'none') {
    return { callback: undefined, token: undefined };
  }
  if (auth !== 'token') {
    throw new TypeError("options.auth must be 'token', 'none' or an auth callback");
  }
  const token = options.token ?? generateToken();
  return { callback: createTokenAuth(token), token };
}

/**
 * The path of a request target; undefined for one that is no URL at all (`//[`, `//%zz`),
 * which `new URL` would throw on and, thrown from a request handler, end the process.
 */
function requestPath(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

function writeRawResponse(socket: Socket, status: number, text: string): void {
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}

class ShellServerImpl extends EventEmitter<ShellServerEvents> implements ShellServer {
  readonly httpServer: Server;
  readonly token: string | undefined;
  private readonly _authCallback: AuthCallback | undefined;
  private readonly _throttle: AuthThrottle | undefined;
  private readonly _log: Logger;
  private readonly _assets: StaticAssets;
  private readonly _wss: WebSocketServer;
  private readonly _allowedOrigins: Set<string>;
  private readonly _pageHeaders: Record<string, string>;
  private readonly _maxConnections: number;
  private readonly _admission: Admission;
  private readonly _trustedProxies: TrustedProxies;
  private readonly _shutdown = new AbortController();
  private readonly _running = new Set<Promise<HandlerResult>>();
  /** Every live session: to resume, to attach to, to list. */
  private readonly _sessions: SessionStore;
  private readonly _shares: ShareStore;
  private readonly _api: SessionApi;
  private readonly _metrics: ServerMetrics | undefined;
  private readonly _idleTimer: IdleTimer | undefined;
  private _listeners: Listener[] = [];
  private _connectionSeq = 0;

  constructor(private readonly _options: ShellServerOptions) {
    super();
    // A bad handler option must fail here, not at the first connection.
    resolveHandlerOptions(this._handlerOptions());
    const auth = resolveAuth(_options);
    this._authCallback = auth.callback;
    this.token = auth.token;
    this._log = _options.logger ?? createLogger({ level: _options.logLevel ?? 'info' });
    this._assets = new StaticAssets(_options.clientDir ?? defaultClientDir());
    this._allowedOrigins = new Set(originsOption('allowedOrigins', _options.allowedOrigins));
    this._pageHeaders = securityHeaders(originsOption('frameAncestors', _options.frameAncestors));
    const max = positiveWhole('maxConnections', _options.maxConnections, DEFAULT_MAX_CONNECTIONS);
    this._maxConnections = max;
    this._admission = new Admission({
      maxConnections: max,
      maxUnauthenticated: positiveWhole(
        'maxUnauthenticated',
        _options.maxUnauthenticated,
        DEFAULT_MAX_UNAUTHENTICATED,
      ),
      maxUnauthenticatedPerPeer: positiveWhole(
        'maxUnauthenticatedPerPeer',
        _options.maxUnauthenticatedPerPeer,
        DEFAULT_MAX_UNAUTHENTICATED_PER_PEER,
      ),
    });
    try {
      this._trustedProxies = parseTrustedProxies(_options.trustedProxies ?? []);
    } catch (error) {
      throw new RangeError(`options.trustedProxies: ${(error as Error).message}`);
    }
    // Each connection listens for the shutdown; past 10 node would warn of a leak that is none.
    setMaxListeners(max + this._admissionCapacity() + 16, this._shutdown.signal);
    if (_options.idleTimeout !== undefined) {
      try {
        this._idleTimer = new IdleTimer(_options.idleTimeout, () => this.emit('idle-timeout'));
      } catch (error) {
        throw new RangeError(`options.idleTimeout: ${(error as Error).message}`);
      }
    }
    const store = new SessionStore({
      ...(_options.resumeWindow !== undefined ? { resumeWindow: _options.resumeWindow } : {}),
      ...(_options.replayBufferBytes !== undefined
        ? { replayBufferBytes: _options.replayBufferBytes }
        : {}),
      ...(_options.screenState !== undefined ? { screenState: _options.screenState } : {}),
      onScreenStateError: (message) =>
        this._log.error({ err: message }, 'the screen-state worker failed; replay only'),
    });
    this._sessions = store;
    store.screenState?.start();
    store.on('change', () => this._emitIfIdle());
    this._shares = new ShareStore((share, why) => this._shareEnded(share, why));
    store.on('ended', (session: { id: string }) => this._shares.dropSession(session.id));
    const maxShareLifetime = _options.maxShareLifetime ?? 86_400;
    if (!Number.isSafeInteger(maxShareLifetime) || maxShareLifetime < 1) {
      throw new RangeError('options.maxShareLifetime must be a whole number of seconds >= 1');
    }
    this._api = new SessionApi({
      sessions: store,
      shares: this._shares,
      maxShareLifetime,
      log: this._log,
      shareCreated: () => this._metrics?.shareEvent('created'),
    });
    if (_options.metrics === true) {
      this._metrics = new ServerMetrics({
        connections: () => this.connections,
        detachedSessions: () => this.detachedSessions,
        unauthenticatedConnections: () => this._admission.unauthenticated,
        viewers: () =>
          this._sessions.list().reduce((sum, session) => sum + session.viewers.length, 0),
        screenState: () => this._sessions.screenState?.stats,
      });
    }
    this._wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: _options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL_V1) ? SUBPROTOCOL_V1 : false),
    });
    this._throttle =
      _options.authThrottle === false ? undefined : new AuthThrottle(_options.authThrottle);
    const headersTimeout = _options.headersTimeout ?? 10;
    if (!(typeof headersTimeout === 'number' && headersTimeout > 0 && headersTimeout <= 30)) {
      throw new RangeError('options.headersTimeout must be a number of seconds from 0 to 30');
    }
    this.httpServer = createServer(
      {
        headersTimeout: headersTimeout * 1000,
        requestTimeout: 30_000,
        // Node checks those timeouts only this often (30 s by default), which would let a slow
        // handshake hold its socket for up to 40 s.
        connectionsCheckingInterval: Math.min(1000, headersTimeout * 500),
      },
      (request, response) => this._httpOnRequest(request, response),
    );
    this.httpServer.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) =>
      this._httpOnUpgrade(request, socket, head),
    );
    // Without a listener node drops CONNECT requests without a word; say why instead.
    this.httpServer.on('connect', (_request: IncomingMessage, socket: Socket) => {
      socket.on('error', () => socket.destroy());
      writeRawResponse(socket, 405, 'Method Not Allowed');
    });
    this.httpServer.on('clientError', (error: Error, socket: Socket) => {
      logDebug(this._log, 'bad HTTP request', error);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
        writeRawResponse(socket, 408, 'Request Timeout');
      } else if (code === 'HPE_HEADER_OVERFLOW') {
        writeRawResponse(socket, 431, 'Request Header Fields Too Large');
      } else {
        writeRawResponse(socket, 400, 'Bad Request');
      }
    });
  }

  get connections(): number {
    return this._running.size;
  }

  get detachedSessions(): number {
    return this._sessions.detached;
  }

  get addresses(): readonly ListenAddress[] {
    return this._listeners.map((listener) => listener.address);
  }

  listen(port: number, host?: string): Promise<AddressInfo>;
  listen(targets: ListenTarget | readonly ListenTarget[]): Promise<ListenAddress[]>;
  async listen(
    portOrTargets: number | ListenTarget | readonly ListenTarget[],
    host = '127.0.0.1',
  ): Promise<AddressInfo | ListenAddress[]> {
    if (typeof portOrTargets === 'number') {
      await this._listenOnAll([{ kind: 'tcp', host, port: portOrTargets }]);
      return this.httpServer.address() as AddressInfo;
    }
    return this._listenOnAll('kind' in portOrTargets ? [portOrTargets] : portOrTargets);
  }

  private async _listenOnAll(targets: readonly ListenTarget[]): Promise<ListenAddress[]> {
    if (this._listeners.length > 0 || this.httpServer.listening) {
      throw new Error('the server is already listening; listen() takes all its targets at once');
    }
    if (targets.length === 0) {
      throw new TypeError('listen() needs at least one target');
    }
    // Listening means ready: the screen-state worker (started with the server) has loaded.
    await this._sessions.screenState?.ready;
    try {
      for (const target of targets) {
        // The first target is the HTTP server's own; the others hand it their connections.
        const server =
          this._listeners.length === 0
            ? this.httpServer
            : createNetServer((socket) => this.httpServer.emit('connection', socket));
        this._listeners.push(await listenOn(server, target));
      }
    } catch (error) {
      this._stopListening();
      throw error;
    }
    // The countdown starts now: an activated server whose client never comes ends too.
    this._idleTimer?.update(this._isIdle());
    return this._listeners.map((listener) => listener.address);
  }

  /** Stops accepting on every listener and removes the socket files we created. */
  private _stopListening(): void {
    const listeners = this._listeners;
    this._listeners = [];
    if (listeners.length === 0) {
      this.httpServer.close();
    }
    for (const listener of listeners) {
      listener.close();
    }
  }

  async close(): Promise<void> {
    this._idleTimer?.dispose();
    this._stopListening();
    this._shutdown.abort();
    await Promise.allSettled([...this._running]);
    await this._sessions.close();
    this.httpServer.closeAllConnections();
    this._wss.close();
  }

  private _httpOnRequest(request: IncomingMessage, response: ServerResponse): void {
    for (const [name, value] of Object.entries(this._pageHeaders)) {
      response.setHeader(name, value);
    }
    const pathname = requestPath(request.url);
    if (pathname === undefined) {
      response.writeHead(400, { 'Content-Type': 'text/plain' });
      response.end('Bad Request');
      return;
    }
    if (pathname.startsWith('/api/') && this._rebindingSafe(request, request.socket)) {
      void this._serveApi(request, response, pathname.slice('/api/'.length));
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' });
      response.end('Method Not Allowed');
      return;
    }
    if (!this._rebindingSafe(request, request.socket)) {
      response.writeHead(403, { 'Content-Type': 'text/plain' });
      response.end('Forbidden');
      return;
    }
    if (pathname === '/healthz') {
      // A bare status: who is connected is not for whoever can reach the port.
      response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      response.end(JSON.stringify({ status: 'ok' }));
      return;
    }
    if (pathname === '/metrics' && this._metrics !== undefined) {
      const metrics = this._metrics;
      void this._authorizeRequest(request).then((owner) => {
        if (owner !== undefined) {
          this._serveMetrics(metrics, response);
        } else {
          response.writeHead(401, {
            'Content-Type': 'text/plain',
            'WWW-Authenticate': 'Bearer realm="xterm-js-shell"',
          });
          response.end('Unauthorized');
        }
      });
      return;
    }
    if (!this._assets.serve(pathname, request, response)) {
      response.writeHead(404, { 'Content-Type': 'text/plain' });
      response.end('Not Found');
    }
  }

  /**
   * Without authentication, only a Host that cannot be rebound is served, for every endpoint
   * and the upgrade alike: a page whose own name was made to resolve to us must not read or
   * drive anything (DNS rebinding). With authentication the credential stops such a page.
   */
  private _rebindingSafe(request: IncomingMessage, socket: Socket): boolean {
    if (this._authCallback !== undefined) {
      return true;
    }
    if (isRebindingSafeHost(request.headers.host, this._allowedOrigins)) {
      return true;
    }
    this._log.warn(
      { host: request.headers.host, peer: peerAddress(socket), path: requestPath(request.url) },
      'refused a request: without authentication only an IP address, localhost or ' +
        'an --allowed-origin host may be used as Host (DNS rebinding)',
    );
    return false;
  }

  /**
   * An HTTP request's Bearer credential, judged like a connection's (throttle included): the
   * owner key of whoever it is, or undefined when refused.
   */
  private async _authorizeRequest(request: IncomingMessage): Promise<string | undefined> {
    const callback = this._authCallback;
    if (callback === undefined) {
      return ownerKey(undefined, undefined);
    }
    const credential = bearerCredential(request);
    if (credential === undefined) {
      return undefined;
    }
    const log = this._log.child({
      path: requestPath(request.url),
      peer: peerAddress(request.socket),
    });
    const check = (): ReturnType<AuthCallback> => callback(credential, undefined, log);
    const gone = new Promise<void>((resolve) => request.socket.once('close', () => resolve()));
    try {
      const result =
        this._throttle === undefined
          ? await check()
          : await this._throttle.attempt(this._peerKey(request), check, gone, log);
      if (!isAccepted(result)) {
        this._metrics?.authFailed('refused');
        log.info('HTTP request refused: no valid credential');
        return undefined;
      }
      return ownerKey(typeof result === 'object' ? result.identity : undefined, credential);
    } catch (error) {
      const throttled = error instanceof AuthRefusal;
      this._metrics?.authFailed(throttled ? 'throttled' : 'error');
      log.info({ err: (error as Error).message }, 'HTTP request refused');
      return undefined;
    }
  }

  /**
   * `/api/…`: the server's credential as Bearer (a share link's is refused, 403), and the same
   * origin rule as the upgrade, so a page of another site cannot drive it with a cookie-less
   * fetch either.
   */
  private async _serveApi(
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
  ): Promise<void> {
    response.setHeader('Cache-Control', 'no-store');
    const origin = checkOrigin(request, this._allowedOrigins);
    if (!origin.allowed) {
      this._log.warn({ origin: origin.origin, path }, 'refused an API request from another origin');
      sendApiError(response, 403, 'XJS_API_FORBIDDEN', 'requests from another origin are refused');
      return;
    }
    if (bearerCredential(request)?.startsWith(SHARE_PREFIX) === true) {
      sendApiError(response, 403, 'XJS_API_FORBIDDEN', 'a share link cannot use the API');
      return;
    }
    const owner = await this._authorizeRequest(request);
    if (owner === undefined) {
      response.setHeader('WWW-Authenticate', 'Bearer realm="xterm-js-shell"');
      sendApiError(response, 401, 'XJS_API_UNAUTHORIZED', "the server's credential is required");
      return;
    }
    await this._api.serve(request, response, path, owner);
  }

  /** A share link stopped: the pages that came through it are cut off at once. */
  private _shareEnded(share: Share, why: 'revoked' | 'expired'): void {
    this._metrics?.shareEvent(why);
    const session = this._sessions.get(share.sessionId);
    const cut = session?.viewers.filter((viewer) => viewer.shareId === share.id) ?? [];
    this._log.info(
      { sessionId: share.sessionId, shareId: share.id, viewersCut: cut.length },
      `share link ${why}`,
    );
    for (const viewer of cut) {
      viewer.port.removed('revoked');
    }
  }

  /** Who a request comes from, for the throttle and the per-peer limit. */
  private _peerKey(request: IncomingMessage): string {
    return throttleKey(
      request.socket.remoteAddress,
      request.headers['x-forwarded-for'],
      this._trustedProxies,
    );
  }

  /** Unauthenticated places: enough listeners on the shutdown signal for all of them. */
  private _admissionCapacity(): number {
    return this._options.maxUnauthenticated ?? DEFAULT_MAX_UNAUTHENTICATED;
  }

  private _serveMetrics(metrics: ServerMetrics, response: ServerResponse): void {
    metrics.registry.metrics().then(
      (text) => {
        response.writeHead(200, {
          'Content-Type': metrics.registry.contentType,
          'Cache-Control': 'no-store',
        });
        response.end(text);
      },
      (error: unknown) => {
        this._log.error({ err: String(error) }, 'collecting metrics failed');
        response.writeHead(500, { 'Content-Type': 'text/plain' }).end('Internal Server Error');
      },
    );
  }

  private _httpOnUpgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const pathname = requestPath(request.url);
    if (pathname === undefined) {
      writeRawResponse(socket, 400, 'Bad Request');
      return;
    }
    if (pathname !== '/') {
      writeRawResponse(socket, 404, 'Not Found');
      return;
    }
    const origin = checkOrigin(request, this._allowedOrigins);
    if (!origin.allowed) {
      this._log.warn(
        { origin: origin.origin, host: request.headers.host, peer: peerAddress(socket) },
        'refused a WebSocket upgrade from another origin (see --allowed-origin)',
      );
      writeRawResponse(socket, 403, 'Forbidden');
      return;
    }
    if (!this._rebindingSafe(request, socket)) {
      writeRawResponse(socket, 403, 'Forbidden');
      return;
    }
    if (this._shutdown.signal.aborted) {
      writeRawResponse(socket, 503, 'Service Unavailable');
      return;
    }
    this._wss.handleUpgrade(request, socket, head, (ws) => this._serve(ws, request));
  }

  /** The handler options among the server's (the rest are the server's own). */
  private _handlerOptions(): WebSocketHandlerOptions {
    const {
      auth: _auth,
      token: _token,
      maxConnections: _max,
      maxUnauthenticated: _maxUnauthenticated,
      maxUnauthenticatedPerPeer: _maxPerPeer,
      trustedProxies: _trustedProxies,
      clientDir: _dir,
      authThrottle: _authThrottle,
      headersTimeout: _headersTimeout,
      resumeWindow: _window,
      replayBufferBytes: _replay,
      maxShareLifetime: _shareLifetime,
      idleTimeout: _idle,
      metrics: _metricsOn,
      ...handlerOptions
    } = this._options;
    return handlerOptions;
  }

  private _serve(ws: WebSocket, request: IncomingMessage): void {
    const logId = `c${++this._connectionSeq}`;
    const callback = this._authCallback;
    if (callback === undefined && this._running.size >= this._maxConnections) {
      this._refuseFull(ws, logId); // without authentication every connection is served at once
      return;
    }
    const peerKey = this._peerKey(request);
    let handler: WebSocketHandler | undefined;
    let authenticated = false;
    const candidate: Candidate = {
      peerKey,
      evict: () => {
        this._log.info(
          { conn: logId, throttleKey: peerKey },
          'closing a connection that has not authenticated, to make room for a new one',
        );
        this._metrics?.connectionRefused('unauthenticated_limit');
        handler?.end('XJS_ERR_TOO_MANY_UNAUTHENTICATED');
      },
    };
    const gone = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    // The throttle judges; admission then moves the connection to the served places, if any.
    const judge = async (
      check: () => AuthResult | Promise<AuthResult>,
      logger: Logger,
    ): Promise<AuthResult> => {
      this._admission.judging(candidate);
      const result =
        this._throttle === undefined
          ? await check()
          : await this._throttle.attempt(peerKey, check, gone, logger);
      if (isAccepted(result)) {
        if (!this._admission.authenticate(candidate)) {
          this._noteFull(logId);
          throw new AuthRefusal('XJS_ERR_SERVER_FULL', 'the server is full');
        }
        authenticated = true;
      }
      return result;
    };
    const admitted: AuthCallback | undefined =
      callback === undefined
        ? undefined
        : (message, websocket, logger) => judge(() => callback(message, websocket, logger), logger);
    const shareAccess: ShareAccess = async (secret, logger) => {
      let share: Share | undefined;
      const result = await judge(() => {
        const check = this._shares.check(secret);
        share = check.ok ? check.share : undefined;
        return check.ok;
      }, logger);
      if (isAccepted(result) && share !== undefined) {
        this._metrics?.shareEvent('used');
        return share;
      }
      return undefined;
    };
    try {
      handler = new WebSocketHandler(ws, {
        ...this._handlerOptions(),
        authCallback: admitted,
        shareAccess,
        logger: this._log,
        logId,
        shutdownSignal: this._shutdown.signal,
        request,
        sessionStore: this._sessions,
        ...(this._metrics !== undefined ? { metrics: this._metrics } : {}),
      });
    } catch (error) {
      // The options were checked at construction; this is a bug, not a client's fault.
      this._log.error({ conn: logId, err: String(error) }, 'cannot serve the connection');
      refuseConnection(ws, 'XJS_ERR_INTERNAL');
      return;
    }
    if (callback !== undefined && !this._admission.arrive(candidate)) {
      this._log.warn(
        { conn: logId, throttleKey: peerKey, unauthenticated: this._admission.unauthenticated },
        'refused a connection: every place for connections that have not authenticated is ' +
          'taken by one being judged',
      );
      this._metrics?.connectionRefused('unauthenticated_limit');
      refuseConnection(ws, 'XJS_ERR_TOO_MANY_UNAUTHENTICATED');
      return;
    }
    const running = handler.run();
    this._running.add(running);
    this._emitIfIdle(); // not idle now: cancels the idle countdown
    running
      .then((result) => this.emit('connection-end', result))
      .catch((error: unknown) => {
        this._log.error({ conn: logId, err: String(error) }, 'connection handler failed');
      })
      .finally(() => {
        if (callback !== undefined || authenticated) {
          this._admission.leave(candidate, authenticated);
        }
        this._running.delete(running);
        this._emitIfIdle();
      });
  }

  private _refuseFull(ws: WebSocket, logId: string): void {
    this._noteFull(logId);
    refuseConnection(ws, 'XJS_ERR_SERVER_FULL');
  }

  private _noteFull(logId: string): void {
    this._log.warn(
      { conn: logId, maxConnections: this._maxConnections },
      'refused a connection: the server is full (see --max-connections)',
    );
    this._metrics?.connectionRefused('full');
  }

  /** The one place that decides idleness: no connection and no shell waiting for a resume. */
  private _isIdle(): boolean {
    return this._running.size === 0 && this.detachedSessions === 0;
  }

  /** Re-evaluates idleness after a connection or a detached session came or went. */
  private _emitIfIdle(): void {
    const idle = this._isIdle();
    this._idleTimer?.update(idle);
    if (idle) {
      this.emit('idle');
    }
  }
}

function logDebug(log: Logger, message: string, error: Error): void {
  log.debug({ err: error.message }, message);
}

/** Creates the ready HTTP + WebSocket server the CLI runs; call `listen()` next. */
export function createShellServer(options: ShellServerOptions = {}): ShellServer {
  return new ShellServerImpl(options);
}
