/**
 * The ready server: one node:http server that serves the page, /healthz, and the WebSocket
 * upgrade on the page's own URL, handing each connection to a WebSocketHandler.
 * @module
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { SUBPROTOCOL_V1 } from '../../protocol/v1.js';
import { createTokenAuth, generateToken } from '../auth/token.js';
import type { AuthCallback } from '../auth/types.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type WebSocketHandlerOptions } from '../handler-options.js';
import { createLogger, type Logger } from '../logger.js';
import { WebSocketHandler, refuseConnection, type HandlerResult } from '../websocket-handler.js';
import { checkOrigin, normaliseOrigin } from './origin-check.js';
import { StaticAssets } from './static-assets.js';

export interface ShellServerOptions extends Omit<
  WebSocketHandlerOptions,
  'authCallback' | 'logId' | 'shutdownSignal' | 'request'
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
  /** Connections served at once; one more is closed with XJS_ERR_SERVER_FULL. @default 1024 */
  readonly maxConnections?: number;
  /** The directory of the built page. @default the page bundled with this package */
  readonly clientDir?: string;
}

export interface ShellServer extends EventEmitter {
  readonly httpServer: Server;
  /** The token clients must send, for `auth: 'token'`; undefined otherwise. */
  readonly token: string | undefined;
  /** Connections being served now. */
  readonly connections: number;
  /** Listens on TCP; resolves with the bound address. */
  listen(port: number, host?: string): Promise<AddressInfo>;
  /**
   * Stops listening, ends every connection with 1001 (terminating each shell gracefully) and
   * resolves when all are gone.
   */
  close(): Promise<void>;
}

/** Events: `connection-end` (HandlerResult) after each connection; `idle` when none are left. */
export type ShellServerEvents = 'connection-end' | 'idle';

const DEFAULT_MAX_CONNECTIONS = 1024;

const SECURITY_HEADERS: Record<string, string> = {
  // Only our own assets; xterm.js sets inline styles, so style-src needs 'unsafe-inline'.
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

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

function writeRawResponse(socket: Socket, status: number, text: string): void {
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}

class ShellServerImpl extends EventEmitter implements ShellServer {
  readonly httpServer: Server;
  readonly token: string | undefined;
  private readonly _authCallback: AuthCallback | undefined;
  private readonly _log: Logger;
  private readonly _assets: StaticAssets;
  private readonly _wss: WebSocketServer;
  private readonly _allowedOrigins: Set<string>;
  private readonly _maxConnections: number;
  private readonly _shutdown = new AbortController();
  private readonly _running = new Set<Promise<HandlerResult>>();
  private _connectionSeq = 0;

  constructor(private readonly _options: ShellServerOptions) {
    super();
    const auth = resolveAuth(_options);
    this._authCallback = auth.callback;
    this.token = auth.token;
    this._log = _options.logger ?? createLogger({ level: _options.logLevel ?? 'info' });
    this._assets = new StaticAssets(_options.clientDir ?? defaultClientDir());
    this._allowedOrigins = new Set(
      (_options.allowedOrigins ?? []).map((origin) => {
        const normalised = normaliseOrigin(origin);
        if (normalised === undefined) {
          throw new TypeError(`options.allowedOrigins: not an http(s) origin: ${origin}`);
        }
        return normalised;
      }),
    );
    const max = _options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError('options.maxConnections must be a positive whole number');
    }
    this._maxConnections = max;
    this._wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: _options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL_V1) ? SUBPROTOCOL_V1 : false),
    });
    this.httpServer = createServer(
      { headersTimeout: 10_000, requestTimeout: 30_000 },
      (request, response) => this._httpOnRequest(request, response),
    );
    this.httpServer.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) =>
      this._httpOnUpgrade(request, socket, head),
    );
    this.httpServer.on('clientError', (error: Error, socket: Socket) => {
      logDebug(this._log, 'bad HTTP request', error);
      writeRawResponse(socket, 400, 'Bad Request');
    });
  }

  get connections(): number {
    return this._running.size;
  }

  listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.httpServer.once('error', onError);
      this.httpServer.listen(port, host, () => {
        this.httpServer.off('error', onError);
        resolve(this.httpServer.address() as AddressInfo);
      });
    });
  }

  async close(): Promise<void> {
    this.httpServer.close();
    this._shutdown.abort();
    await Promise.allSettled([...this._running]);
    this.httpServer.closeAllConnections();
    this._wss.close();
  }

  private _httpOnRequest(request: IncomingMessage, response: ServerResponse): void {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      response.setHeader(name, value);
    }
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' });
      response.end('Method Not Allowed');
      return;
    }
    if (pathname === '/healthz') {
      response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      response.end(JSON.stringify({ status: 'ok', connections: this.connections }));
      return;
    }
    if (!this._assets.serve(pathname, request, response)) {
      response.writeHead(404, { 'Content-Type': 'text/plain' });
      response.end('Not Found');
    }
  }

  private _httpOnUpgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (pathname !== '/') {
      writeRawResponse(socket, 404, 'Not Found');
      return;
    }
    const origin = checkOrigin(request, this._allowedOrigins);
    if (!origin.allowed) {
      this._log.warn(
        { origin: origin.origin, host: request.headers.host, peer: socket.remoteAddress },
        'refused a WebSocket upgrade from another origin (see --allowed-origin)',
      );
      writeRawResponse(socket, 403, 'Forbidden');
      return;
    }
    if (this._shutdown.signal.aborted) {
      writeRawResponse(socket, 503, 'Service Unavailable');
      return;
    }
    this._wss.handleUpgrade(request, socket, head, (ws) => this._serve(ws, request));
  }

  private _serve(ws: WebSocket, request: IncomingMessage): void {
    const logId = `c${++this._connectionSeq}`;
    if (this._running.size >= this._maxConnections) {
      this._log.warn(
        { conn: logId, maxConnections: this._maxConnections },
        'refused a connection: the server is full (see --max-connections)',
      );
      refuseConnection(ws, 'XJS_ERR_SERVER_FULL');
      return;
    }
    const {
      auth: _auth,
      token: _token,
      allowedOrigins: _origins,
      maxConnections: _max,
      clientDir: _dir,
      ...handlerOptions
    } = this._options;
    const handler = new WebSocketHandler(ws, {
      ...handlerOptions,
      authCallback: this._authCallback,
      logger: this._log,
      logId,
      shutdownSignal: this._shutdown.signal,
      request,
    });
    const running = handler.run();
    this._running.add(running);
    running
      .then((result) => this.emit('connection-end', result))
      .catch((error: unknown) => {
        this._log.error({ conn: logId, err: String(error) }, 'connection handler failed');
      })
      .finally(() => {
        this._running.delete(running);
        if (this._running.size === 0) {
          this.emit('idle');
        }
      });
  }
}

function logDebug(log: Logger, message: string, error: Error): void {
  log.debug({ err: error.message }, message);
}

/** Creates the ready HTTP + WebSocket server the CLI runs; call `listen()` next. */
export function createShellServer(options: ShellServerOptions = {}): ShellServer {
  return new ShellServerImpl(options);
}
