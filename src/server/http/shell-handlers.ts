/**
 * The shell as two handlers any Node.js app can mount under a base path: one for requests (the
 * page, its assets, /healthz, /metrics, the session API) and one for the WebSocket upgrade,
 * with the headers, origin check, admission, throttle and auth of the ready server, which is
 * these handlers on an http.Server of its own (shell-server.ts). See docs/library.md.
 * @module
 */
import { EventEmitter, setMaxListeners } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
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

export interface ShellHandlersOptions extends Omit<
  WebSocketHandlerOptions,
  'authCallback' | 'logId' | 'shutdownSignal' | 'request' | 'sessionStore' | 'metrics'
> {
  /**
   * Where the page lives, such as `/shell/`: the page, its assets, `healthz`, `metrics`, `api/…`
   * and the WebSocket are all below it (a missing final `/` is added). @default '/'
   */
  readonly basePath?: string;
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
   * Serve Prometheus metrics at `metrics` below the base path. With authentication on, a
   * scraper sends the server's credential as `Authorization: Bearer …` (throttled like any
   * attempt); with `auth: 'none'` only requests for a Host that cannot be rebound are answered.
   * @default false
   */
  readonly metrics?: boolean;
}

/**
 * The handlers' events, typed: `connection-end` after each connection; `idle` when none is left
 * (and no shell waits for a resume).
 */
export interface ShellHandlersEvents {
  'connection-end': [result: HandlerResult];
  idle: [];
}

/** What to do with a request or upgrade that is not below the base path. */
export type NextHandler = (error?: unknown) => void;

export interface ShellHandlers extends EventEmitter<ShellHandlersEvents> {
  /** The normalised base path, such as `/shell/`. */
  readonly basePath: string;
  /** The token clients must send, for `auth: 'token'`; undefined otherwise. */
  readonly token: string | undefined;
  /** Connections being served now. */
  readonly connections: number;
  /** Shells kept for a resume while no connection holds them. */
  readonly detachedSessions: number;
  /**
   * Answers every request below the base path (the base path without its final `/` is
   * redirected to it); any other goes to `next`, or is answered 404 without one. Bound: pass it
   * as it is (`app.use(shell.handleRequest)`).
   */
  readonly handleRequest: (
    request: IncomingMessage,
    response: ServerResponse,
    next?: NextHandler,
  ) => void;
  /**
   * Takes the WebSocket upgrade at the base path (origin checked, 403 for another site); other
   * upgrades go to `next`, or are answered 404 without one. Bound, for
   * `server.on('upgrade', shell.handleUpgrade)`.
   */
  readonly handleUpgrade: (
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    next?: NextHandler,
  ) => void;
  /**
   * Serves a WebSocket your own `ws` server (or `@fastify/websocket`, `express-ws`) accepted,
   * with its upgrade request: origin checked (4016 for another site), admitted, authenticated.
   * Create that server with `maxPayload` of `maxMessageBytes` (1 MiB). Bound.
   */
  readonly handleConnection: (websocket: WebSocket, request: IncomingMessage) => void;
  /**
   * Ends every connection with 1001 (terminating each shell gracefully), refuses new ones
   * (503), and resolves when all are gone.
   */
  close(): Promise<void>;
}

/** Told whether the handlers are idle each time that may have changed (the server's countdown). */
export type IdleObserver = (idle: boolean) => void;

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

/** `/shell` → `/shell/`; a TypeError for anything that is not a plain absolute path. */
export function normaliseBasePath(basePath: string | undefined): string {
  const given: unknown = basePath ?? '/';
  const refuse = (): never => {
    throw new TypeError(
      `options.basePath must be an absolute path such as '/shell/', got ${String(given)}`,
    );
  };
  if (typeof given !== 'string' || !given.startsWith('/') || given.startsWith('//')) {
    return refuse();
  }
  const withSlash = given.endsWith('/') ? given : `${given}/`;
  // The URL parser resolves `..` and encodes what a path cannot hold: a path it changes, or
  // one with a query or fragment, is not a plain path.
  const parsed = requestPath(withSlash);
  if (parsed !== withSlash || /[?#]/.test(given)) {
    return refuse();
  }
  return withSlash;
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

function resolveAuth(options: ShellHandlersOptions): {
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
export function requestPath(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

/**
 * The request's whole target: express keeps it in `originalUrl` when a router mounted at a
 * path stripped that path from `url`.
 */
function requestTarget(request: IncomingMessage): string | undefined {
  const original = (request as { originalUrl?: unknown }).originalUrl;
  return typeof original === 'string' ? original : request.url;
}

/** A plain HTTP answer on a socket that was to be upgraded (or had a broken request). */
export function writeRawResponse(socket: Duplex, status: number, text: string): void {
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}

/** Where a path falls: below the base path (`inner` starts with `/`), its bare form, or elsewhere. */
type Placement = { kind: 'inside'; inner: string } | { kind: 'bare' } | { kind: 'outside' };

export class ShellHandlersImpl extends EventEmitter<ShellHandlersEvents> implements ShellHandlers {
  readonly basePath: string;
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
  private _connectionSeq = 0;

  /**
   * @param _options the handlers' options (the server's without those of its listening socket)
   * @param _idleObserver told of idleness whenever it may have changed
   */
  constructor(
    private readonly _options: ShellHandlersOptions,
    private readonly _idleObserver?: IdleObserver,
  ) {
    super();
    this.basePath = normaliseBasePath(_options.basePath);
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
  }

  get connections(): number {
    return this._running.size;
  }

  /** Settles once the screen-state worker (started with the handlers) has loaded. */
  get ready(): Promise<void> {
    return this._sessions.screenState?.ready ?? Promise.resolve();
  }

  get detachedSessions(): number {
    return this._sessions.detached;
  }

  /** No connection and no shell waiting for a resume. */
  get idle(): boolean {
    return this._running.size === 0 && this.detachedSessions === 0;
  }

  async close(): Promise<void> {
    this._shutdown.abort();
    await Promise.allSettled([...this._running]);
    await this._sessions.close();
    this._wss.close();
  }

  /** Where `pathname` falls relative to the base path. */
  private _place(pathname: string): Placement {
    if (pathname.startsWith(this.basePath)) {
      return { kind: 'inside', inner: pathname.slice(this.basePath.length - 1) };
    }
    return pathname === this.basePath.slice(0, -1) ? { kind: 'bare' } : { kind: 'outside' };
  }

  readonly handleRequest = (
    request: IncomingMessage,
    response: ServerResponse,
    next?: NextHandler,
  ): void => {
    const target = requestTarget(request);
    const pathname = requestPath(target);
    const place = pathname === undefined ? undefined : this._place(pathname);
    if (place?.kind === 'outside' || (place === undefined && next !== undefined)) {
      if (next !== undefined) {
        next();
      } else {
        response.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not Found');
      }
      return;
    }
    for (const [name, value] of Object.entries(this._pageHeaders)) {
      response.setHeader(name, value);
    }
    if (place === undefined) {
      response.writeHead(400, { 'Content-Type': 'text/plain' });
      response.end('Bad Request');
      return;
    }
    if (place.kind === 'bare') {
      // The page resolves its assets, socket and API against its own URL: it needs the slash.
      const query = new URL(target ?? '/', 'http://localhost').search;
      response.writeHead(308, {
        Location: `${this.basePath}${query}`,
        'Content-Type': 'text/plain',
      });
      response.end('Permanent Redirect');
      return;
    }
    this._serveRequest(request, response, place.inner);
  };

  private _serveRequest(
    request: IncomingMessage,
    response: ServerResponse,
    pathname: string,
  ): void {
    if (pathname.startsWith('/api/') && this._rebindingSafe(request)) {
      void this._serveApi(request, response, pathname.slice('/api/'.length));
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' });
      response.end('Method Not Allowed');
      return;
    }
    if (!this._rebindingSafe(request)) {
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
  private _rebindingSafe(request: IncomingMessage): boolean {
    if (this._authCallback !== undefined) {
      return true;
    }
    if (isRebindingSafeHost(request.headers.host, this._allowedOrigins)) {
      return true;
    }
    this._log.warn(
      {
        host: request.headers.host,
        peer: peerAddress(request.socket),
        path: requestPath(requestTarget(request)),
      },
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
      path: requestPath(requestTarget(request)),
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
   * `api/…`: the server's credential as Bearer (a share link's is refused, 403), and the same
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

  readonly handleUpgrade = (
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    next?: NextHandler,
  ): void => {
    const pathname = requestPath(requestTarget(request));
    const place = pathname === undefined ? undefined : this._place(pathname);
    if (next !== undefined && (place === undefined || place.kind === 'outside')) {
      next();
      return;
    }
    socket.on('error', () => socket.destroy());
    if (place === undefined) {
      writeRawResponse(socket, 400, 'Bad Request');
      return;
    }
    if (place.kind === 'outside' || (place.kind === 'inside' && place.inner !== '/')) {
      writeRawResponse(socket, 404, 'Not Found');
      return;
    }
    const origin = checkOrigin(request, this._allowedOrigins);
    if (!origin.allowed) {
      this._log.warn(
        { origin: origin.origin, host: request.headers.host, peer: peerAddress(request.socket) },
        'refused a WebSocket upgrade from another origin (see --allowed-origin)',
      );
      writeRawResponse(socket, 403, 'Forbidden');
      return;
    }
    if (!this._rebindingSafe(request)) {
      writeRawResponse(socket, 403, 'Forbidden');
      return;
    }
    if (this._shutdown.signal.aborted) {
      writeRawResponse(socket, 503, 'Service Unavailable');
      return;
    }
    this._wss.handleUpgrade(request, socket, head, (ws) => this._serve(ws, request));
  };

  readonly handleConnection = (websocket: WebSocket, request: IncomingMessage): void => {
    if (!this._rebindingSafe(request)) {
      refuseConnection(websocket, 'XJS_ERR_ORIGIN_FORBIDDEN');
      return;
    }
    // The handler itself refuses another site's page (4016) and a connection after close (1001).
    this._serve(websocket, request);
  };

  /** The handler options among the handlers' (the rest are the handlers' own). */
  private _handlerOptions(): WebSocketHandlerOptions {
    const {
      basePath: _basePath,
      auth: _auth,
      token: _token,
      maxConnections: _max,
      maxUnauthenticated: _maxUnauthenticated,
      maxUnauthenticatedPerPeer: _maxPerPeer,
      trustedProxies: _trustedProxies,
      clientDir: _dir,
      authThrottle: _authThrottle,
      resumeWindow: _window,
      replayBufferBytes: _replay,
      maxShareLifetime: _shareLifetime,
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

  /** Re-evaluates idleness after a connection or a detached session came or went. */
  private _emitIfIdle(): void {
    const idle = this.idle;
    this._idleObserver?.(idle);
    if (idle) {
      this.emit('idle');
    }
  }
}

/**
 * The page, its assets, `healthz`, the session API and the WebSocket under `basePath`, as two
 * handlers for your own server (see docs/library.md); call `close()` on shutdown.
 */
export function createShellHandlers(options: ShellHandlersOptions = {}): ShellHandlers {
  return new ShellHandlersImpl(options);
}
