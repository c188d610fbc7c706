// A loopback TCP proxy that can cut a connection and swallow server-to-client bytes.
// Swallowed bytes were sent by the server and will never reach the client: a resume replays them.
import { connect, createServer, type Server, type Socket } from 'node:net';

export class CutProxy {
  /** Server-to-client bytes are read and thrown away while this is set. */
  swallowing = false;
  /** Bytes swallowed so far. */
  swallowed = 0;
  private readonly _pairs = new Set<[Socket, Socket]>();
  private readonly _server: Server;

  private constructor(private readonly _targetPort: number) {
    this._server = createServer({ pauseOnConnect: true, noDelay: true }, (client) =>
      this._serverOnConnection(client),
    );
  }

  static async start(targetPort: number): Promise<CutProxy> {
    const proxy = new CutProxy(targetPort);
    await new Promise<void>((resolve, reject) => {
      proxy._server.once('error', reject);
      proxy._server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get url(): string {
    const address = this._server.address();
    return typeof address === 'object' && address !== null ? `ws://127.0.0.1:${address.port}/` : '';
  }

  /** Cuts the connection whose client uses local port `port`, with a TCP reset both ways. */
  cut(port: number): void {
    for (const pair of this._pairs) {
      if (pair[0].remotePort === port) {
        pair[0].resetAndDestroy();
        pair[1].resetAndDestroy();
        this._pairs.delete(pair);
      }
    }
  }

  /** Cuts every connection with a TCP reset on both sides. */
  cutAll(): void {
    for (const [client, upstream] of this._pairs) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    this._pairs.clear();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this._server.close(() => resolve()));
  }

  private _serverOnConnection(client: Socket): void {
    const upstream = connect({ host: '127.0.0.1', port: this._targetPort, noDelay: true });
    const pair: [Socket, Socket] = [client, upstream];
    this._pairs.add(pair);
    upstream.once('connect', () => client.resume());
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      if (this.swallowing) {
        this.swallowed += chunk.length;
      } else {
        client.write(chunk);
      }
    });
    for (const [socket, partner] of [pair, [upstream, client]] as const) {
      socket.on('error', () => partner.destroy());
      socket.on('close', () => {
        partner.destroy();
        this._pairs.delete(pair);
      });
    }
  }
}
