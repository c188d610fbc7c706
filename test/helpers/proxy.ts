/**
 * A TCP proxy on loopback whose connections a test can freeze (stop forwarding both ways while
 * keeping the sockets open: a laptop gone to sleep, a stalled Wi-Fi link) or cut.
 * @module
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { waitFor, type WaitOptions } from './wait-for.js';

/** One direction of a proxied connection: reads `from`, writes `to`, honours backpressure. */
class Pipe {
  /** Bytes written on to the other side. */
  forwarded = 0;
  /** Chunks read after a freeze began; written on when it ends. */
  private readonly _held: Buffer[] = [];
  private _waitingForDrain = false;

  constructor(
    private readonly _from: Socket,
    private readonly _to: Socket,
    private readonly _isFrozen: () => boolean,
  ) {
    _from.on('data', this._fromOnData);
    _from.on('end', this._fromOnEnd);
    _to.on('drain', this._toOnDrain);
  }

  /** Writes what was held and reads on, unless the other side is still full. */
  thaw(): void {
    for (const chunk of this._held.splice(0)) {
      this._write(chunk);
    }
    if (!this._waitingForDrain) {
      this._from.resume();
    }
  }

  private _write(chunk: Buffer): void {
    if (this._to.destroyed) {
      return;
    }
    this.forwarded += chunk.length;
    if (!this._to.write(chunk)) {
      this._waitingForDrain = true;
      this._from.pause();
    }
  }

  private readonly _fromOnData = (chunk: Buffer): void => {
    if (this._isFrozen()) {
      // Stop reading: the sender's kernel buffers fill, as they would on a dead link.
      this._held.push(chunk);
      this._from.pause();
      return;
    }
    this._write(chunk);
  };

  private readonly _fromOnEnd = (): void => {
    if (!this._to.destroyed) {
      this._to.end();
    }
  };

  private readonly _toOnDrain = (): void => {
    this._waitingForDrain = false;
    if (!this._isFrozen()) {
      this._from.resume();
    }
  };
}

/** A client's connection through the proxy: the client's socket and the one to the server. */
export class ProxiedConnection {
  /** Resolves once both sockets are closed. */
  readonly closed: Promise<void>;
  private _frozen = false;
  private readonly _toServer: Pipe;
  private readonly _toClient: Pipe;

  constructor(
    readonly client: Socket,
    readonly server: Socket,
  ) {
    const frozen = (): boolean => this._frozen;
    this._toServer = new Pipe(client, server, frozen);
    this._toClient = new Pipe(server, client, frozen);
    const closedOne = (socket: Socket): Promise<void> =>
      new Promise((resolve) => socket.once('close', () => resolve()));
    this.closed = Promise.all([closedOne(client), closedOne(server)]).then(() => undefined);
    // A socket that fails takes its partner with it, as a real proxy would.
    for (const [socket, partner] of [
      [client, server],
      [server, client],
    ] as const) {
      socket.on('error', () => partner.destroy());
      socket.on('close', () => partner.destroy());
    }
  }

  get frozen(): boolean {
    return this._frozen;
  }

  /** Bytes passed on from the server to the client so far. */
  get bytesToClient(): number {
    return this._toClient.forwarded;
  }

  /**
   * Bytes from the client waiting in the proxy for the server's socket to take them: above 0
   * once the server stopped reading and the kernel's buffers on the way are full.
   */
  get queuedToServer(): number {
    return this.server.writableLength;
  }

  /** Bytes passed on from the client to the server so far. */
  get bytesToServer(): number {
    return this._toServer.forwarded;
  }

  /**
   * Stops forwarding in both directions and stops reading both sockets, without closing either:
   * to each end the other has simply gone silent (pings unanswered, writes piling up).
   */
  freeze(): void {
    this._frozen = true;
    this.client.pause();
    this.server.pause();
  }

  /** Forwards again, starting with what was held: nothing is lost across a freeze. */
  resume(): void {
    this._frozen = false;
    this._toServer.thaw();
    this._toClient.thaw();
  }

  /**
   * Cuts both sockets. `reset` sends a TCP RST (a peer that rebooted); otherwise a FIN (a proxy
   * that timed the connection out). Unread data makes the kernel send RST either way.
   */
  cut(how: 'fin' | 'reset' = 'fin'): void {
    for (const socket of [this.client, this.server]) {
      if (how === 'reset' && !socket.destroyed) {
        socket.resetAndDestroy();
      } else {
        socket.destroy();
      }
    }
  }
}

/** The proxy: listens on a free loopback port and relays each connection to `targetPort`. */
export class FreezableProxy {
  /** Every connection accepted, in order. */
  readonly connections: ProxiedConnection[] = [];
  private readonly _server: Server;

  /** Where new connections go; a test may point it at another server (a restart). */
  targetPort: number;

  private constructor(targetPort: number) {
    this.targetPort = targetPort;
    // Paused until the upstream socket is connected, so no early byte needs buffering here.
    this._server = createServer({ pauseOnConnect: true }, this._serverOnConnection);
  }

  /** Starts a proxy to `127.0.0.1:targetPort` on a free loopback port. */
  static async start(targetPort: number): Promise<FreezableProxy> {
    const proxy = new FreezableProxy(targetPort);
    await new Promise<void>((resolve, reject) => {
      proxy._server.once('error', reject);
      proxy._server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  /** The proxy's own port. */
  get port(): number {
    const address = this._server.address();
    if (address === null || typeof address === 'string') {
      throw new Error('the proxy is not listening on a TCP port');
    }
    return address.port;
  }

  /** `ws://127.0.0.1:PORT/` of the proxy. */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  /** The `index`th connection (0-based), once it has arrived. */
  async connection(index: number, options: WaitOptions = {}): Promise<ProxiedConnection> {
    return waitFor(() => this.connections[index], {
      message: `proxied connection #${index}`,
      ...options,
    });
  }

  /** Cuts every connection and stops listening; resolves when every socket is closed. */
  async close(): Promise<void> {
    const closing = new Promise<void>((resolve) => this._server.close(() => resolve()));
    for (const connection of this.connections) {
      connection.cut();
    }
    await Promise.all([closing, ...this.connections.map((connection) => connection.closed)]);
  }

  /** While true, new connections are reset at once: the network is down for newcomers. */
  refusing = false;

  private readonly _serverOnConnection = (client: Socket): void => {
    if (this.refusing) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port: this.targetPort });
    this.connections.push(new ProxiedConnection(client, upstream));
    upstream.once('connect', () => client.resume());
  };
}
