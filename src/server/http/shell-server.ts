/**
 * The ready server: the shell's handlers (shell-handlers.ts) on a node:http server of its own,
 * which serves the page, /healthz and the WebSocket upgrade on the page's own URL, with the
 * header timeouts, answers to broken requests, listen targets and idle countdown of a server.
 * @module
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { IdleTimer } from './idle-timer.js';
import { listenOn, type ListenAddress, type ListenTarget, type Listener } from './listen.js';
import { createLogger, type Logger } from '../logger.js';
import {
  ShellHandlersImpl,
  writeRawResponse,
  type ShellHandlersEvents,
  type ShellHandlersOptions,
} from './shell-handlers.js';

export interface ShellServerOptions extends ShellHandlersOptions {
  /**
   * Seconds a client has to send a request's headers (slow-handshake defence); at most 30, the
   * time allowed for a whole request. @default 10
   */
  readonly headersTimeout?: number;
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
export interface ShellServerEvents extends ShellHandlersEvents {
  'idle-timeout': [];
}

class ShellServerImpl extends EventEmitter<ShellServerEvents> implements ShellServer {
  readonly httpServer: Server;
  private readonly _handlers: ShellHandlersImpl;
  private readonly _log: Logger;
  private readonly _idleTimer: IdleTimer | undefined;
  private _listeners: Listener[] = [];

  constructor(options: ShellServerOptions) {
    super();
    const { headersTimeout: givenHeadersTimeout, idleTimeout, ...handlerOptions } = options;
    const log = options.logger ?? createLogger({ level: options.logLevel ?? 'info' });
    this._log = log;
    this._handlers = new ShellHandlersImpl({ ...handlerOptions, logger: log }, (idle) =>
      this._idleTimer?.update(idle),
    );
    this._handlers.on('connection-end', (result) => this.emit('connection-end', result));
    this._handlers.on('idle', () => this.emit('idle'));
    if (idleTimeout !== undefined) {
      try {
        this._idleTimer = new IdleTimer(idleTimeout, () => this.emit('idle-timeout'));
      } catch (error) {
        throw new RangeError(`options.idleTimeout: ${(error as Error).message}`);
      }
    }
    const headersTimeout = givenHeadersTimeout ?? 10;
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
      this._handlers.handleRequest,
    );
    this.httpServer.on('upgrade', this._handlers.handleUpgrade);
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

  get token(): string | undefined {
    return this._handlers.token;
  }

  get connections(): number {
    return this._handlers.connections;
  }

  get detachedSessions(): number {
    return this._handlers.detachedSessions;
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
    await this._handlers.ready;
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
    this._idleTimer?.update(this._handlers.idle);
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
    await this._handlers.close();
    this.httpServer.closeAllConnections();
  }
}

function logDebug(log: Logger, message: string, error: Error): void {
  log.debug({ err: error.message }, message);
}

/** Creates the ready HTTP + WebSocket server the CLI runs; call `listen()` next. */
export function createShellServer(options: ShellServerOptions = {}): ShellServer {
  return new ShellServerImpl(options);
}
