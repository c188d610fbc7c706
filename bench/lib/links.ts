// The three ways the benchmarks reach a shell (raw node-pty, legacy, v1) behind one shape.
// Raw node-pty runs in this process (the baseline); legacy and v1 go over a real WebSocket.
import { readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as nodePty from 'node-pty';
import { WebSocket, type RawData } from 'ws';
import {
  SUBPROTOCOL_V1,
  decodeServerMessage,
  encodeAck,
  encodeClientHello,
  encodeInput,
  type ResumeRequest,
  type ServerHello,
  type ServerMessage,
} from '../../src/protocol/v1.js';
import { shellEnvironment } from '../../src/server/process/shell-env.js';

export type LinkKind = 'raw' | 'legacy' | 'v1';

/** A wait for a byte string in the output, answered with the time of the chunk it came in. */
interface Expectation {
  readonly needle: Buffer;
  readonly resolve: (at: number) => void;
}

/** A shell's output stream as the benchmarks see it: chunks, timestamps, and waits for text. */
export abstract class Link {
  abstract readonly kind: LinkKind;
  /** Output bytes received. */
  bytes = 0;
  /** performance.now() of the first output byte. */
  firstOutputAt: number | undefined;
  /** Called with every output chunk, in order. */
  onOutput: ((chunk: Buffer, at: number) => void) | undefined;
  /** Resolves when the shell or the connection is gone. */
  abstract readonly ended: Promise<void>;
  private _tail: Buffer = Buffer.alloc(0);
  private readonly _expectations: Expectation[] = [];

  abstract send(data: string | Buffer): void;
  abstract close(): Promise<void>;

  /**
   * Resolves with the time the output next contains `needle`, searching from now on (and in
   * the last 64 bytes already received, with `inTail`).
   */
  expect(needle: string, timeoutMs = 30_000, inTail = false): Promise<number> {
    if (inTail && this._tail.includes(Buffer.from(needle, 'latin1'))) {
      return Promise.resolve(performance.now());
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this._expectations.indexOf(expectation);
        if (index >= 0) this._expectations.splice(index, 1);
        reject(
          new Error(
            `${this.kind}: no ${JSON.stringify(needle)} in ${timeoutMs} ms; last output ${JSON.stringify(this._tail.toString('latin1').slice(-120))}`,
          ),
        );
      }, timeoutMs);
      const expectation: Expectation = {
        needle: Buffer.from(needle, 'latin1'),
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      this._expectations.push(expectation);
    });
  }

  /** Resolves with the time of the next output chunk. */
  nextOutput(timeoutMs = 30_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const previous = this.onOutput;
      const timer = setTimeout(() => {
        this.onOutput = previous;
        reject(new Error(`${this.kind}: no output in ${timeoutMs} ms`));
      }, timeoutMs);
      this.onOutput = (chunk, at) => {
        clearTimeout(timer);
        this.onOutput = previous;
        previous?.(chunk, at);
        resolve(at);
      };
    });
  }

  protected _received(chunk: Buffer): void {
    const at = performance.now();
    this.bytes += chunk.length;
    this.firstOutputAt ??= at;
    this.onOutput?.(chunk, at);
    if (this._expectations.length === 0) {
      // Keep only a short tail, cheaply: a needle may start in this chunk and end in the next.
      this._tail =
        chunk.length >= 64
          ? chunk.subarray(chunk.length - 64)
          : Buffer.concat([this._tail, chunk]).subarray(-64);
      return;
    }
    const longest = Math.max(...this._expectations.map((e) => e.needle.length));
    const window = Buffer.concat([this._tail.subarray(-Math.max(longest - 1, 0)), chunk]);
    for (const expectation of [...this._expectations]) {
      if (window.includes(expectation.needle)) {
        this._expectations.splice(this._expectations.indexOf(expectation), 1);
        expectation.resolve(at);
      }
    }
    this._tail = window.subarray(-64);
  }
}

export interface RawSpawn {
  readonly command: readonly string[];
  /** Extra environment over process.env, as the server's `env` option. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cols?: number;
  readonly rows?: number;
  /**
   * Read what the pty still holds when libuv reports its end (see drainAtEnd). node-pty alone
   * loses those bytes when the shell exits right after printing. @default false
   */
  readonly drainAtEnd?: boolean;
}

/**
 * libuv ends a stream on POLLHUP after a partial read (uv__stream_io), which suits sockets but
 * not a pty: the kernel may still hold output of a shell that just exited, and reads it out in
 * pieces. Reading the master fd synchronously until EIO when 'end' comes recovers every byte.
 */
function drainAtEnd(pty: nodePty.IPty, received: (chunk: Buffer) => void): void {
  const internals = pty as unknown as { _socket: NodeJS.ReadableStream; _fd: number };
  internals._socket.prependListener('end', () => {
    const buffer = Buffer.allocUnsafe(65536);
    for (;;) {
      let count: number;
      try {
        count = readSync(internals._fd, buffer, 0, buffer.length, null);
      } catch {
        return; // EIO: the pty is empty and its other side closed; EAGAIN: nothing more now
      }
      if (count === 0) {
        return;
      }
      received(Buffer.from(buffer.subarray(0, count)));
    }
  });
}

/** The baseline: node-pty in this process, read as raw Buffers, no network in between. */
export class RawLink extends Link {
  readonly kind = 'raw';
  readonly spawnedAt: number;
  readonly ended: Promise<void>;
  readonly pty: nodePty.IPty;

  constructor(spawn: RawSpawn) {
    super();
    const [file, ...args] = spawn.command;
    // The same environment and working directory the server gives its shells.
    const env = shellEnvironment(process.env, spawn.env ?? {});
    this.spawnedAt = performance.now();
    this.pty = nodePty.spawn(file ?? '/bin/bash', args, {
      name: 'xterm-256color',
      cols: spawn.cols ?? 80,
      rows: spawn.rows ?? 24,
      cwd: env.HOME ?? process.cwd(),
      env,
      encoding: null,
    });
    this.pty.onData((data) => this._received(data as unknown as Buffer));
    if (spawn.drainAtEnd === true) {
      drainAtEnd(this.pty, (chunk) => this._received(chunk));
    }
    this.ended = new Promise((resolve) => this.pty.onExit(() => resolve()));
  }

  send(data: string | Buffer): void {
    this.pty.write(data);
  }

  async close(): Promise<void> {
    try {
      this.pty.kill('SIGHUP');
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        this.pty.kill('SIGKILL');
      } catch {
        // already gone
      }
    }, 2000);
    await this.ended;
    clearTimeout(timer);
  }
}

export interface WsOptions {
  readonly url: string;
  readonly kind: 'legacy' | 'v1';
  readonly credential?: string;
  readonly cols?: number;
  readonly rows?: number;
  /** v1: acknowledge output as it arrives (a reading page). @default true */
  readonly ack?: boolean;
  readonly resume?: ResumeRequest;
  /** v1: join this live session as one more viewer (hello `attach`), with `credential`. */
  readonly attach?: string;
  /**
   * v1: ask for SESSION messages (hello `events`); a `skipped` one moves the offset on, as a
   * page must, so that acknowledgements keep counting in the server's numbering.
   */
  readonly events?: boolean;
  /** Sent right after the hello (v1) or the credential (legacy), before any answer. */
  readonly earlyInput?: string;
}

/** A WebSocket client of either wire format that processes output as fast as it arrives. */
export class WsLink extends Link {
  readonly kind: 'legacy' | 'v1';
  readonly socket: WebSocket;
  /** performance.now() when the connection was started (TCP connect). */
  readonly startedAt: number;
  openedAt: number | undefined;
  helloAt: number | undefined;
  hello: ServerHello | undefined;
  closeCode: number | undefined;
  closeReason = '';
  errorCode: string | undefined;
  readonly opened: Promise<void>;
  readonly ended: Promise<void>;
  /** v1: the offset of the next output byte. */
  offset = 0;
  /** v1 frames this client could not decode (and ignored). */
  unknownFrames = 0;
  /** v1 with events: output bytes the server skipped for this viewer (gone from its replay). */
  skippedBytes = 0;
  /** v1 with events: `skipped` events whose `from` was not this client's offset. */
  skipMismatches = 0;
  private _acked = 0;
  private _ackBytes = 65536;
  private _ack: boolean;

  constructor(options: WsOptions) {
    super();
    this.kind = options.kind;
    this._ack = options.ack ?? true;
    this.startedAt = performance.now();
    this.socket = new WebSocket(options.url, options.kind === 'v1' ? [SUBPROTOCOL_V1] : [], {
      perMessageDeflate: false,
    });
    this.socket.binaryType = 'nodebuffer';
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => {
        this.openedAt = performance.now();
        this._sayHello(options);
        resolve();
      });
      this.socket.once('error', reject);
    });
    this.opened.catch(() => undefined);
    this.ended = new Promise((resolve) =>
      this.socket.once('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString('utf8');
        resolve();
      }),
    );
    this.socket.on('error', () => undefined); // recorded by 'close'
    this.socket.on('message', (data: RawData, isBinary) => this._socketOnMessage(data, isBinary));
  }

  private _sayHello(options: WsOptions): void {
    if (this.kind === 'v1') {
      this.socket.send(
        encodeClientHello({
          cols: options.cols ?? 80,
          rows: options.rows ?? 24,
          ...(options.credential !== undefined ? { credential: options.credential } : {}),
          ...(options.resume !== undefined ? { resume: options.resume } : {}),
          ...(options.attach !== undefined ? { attach: options.attach } : {}),
          ...(options.events !== undefined ? { events: options.events } : {}),
        }),
      );
    } else if (options.credential !== undefined) {
      this.socket.send(options.credential);
    }
    if (options.earlyInput !== undefined) {
      this.send(options.earlyInput);
    }
  }

  /** Resolves once the server said hello (v1) or the socket opened (legacy). */
  async ready(timeoutMs = 30_000): Promise<void> {
    await this.opened;
    if (this.kind === 'legacy') {
      return;
    }
    const start = performance.now();
    while (this.hello === undefined) {
      if (this.closeCode !== undefined) {
        throw new Error(`closed ${this.closeCode} ${this.closeReason} before the hello`);
      }
      if (performance.now() - start > timeoutMs) {
        throw new Error('no server hello');
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /** The local TCP port of the connection (0 before it connected). */
  get localPort(): number {
    return (this.socket as unknown as { _socket?: { localPort?: number } })._socket?.localPort ?? 0;
  }

  send(data: string | Buffer): void {
    if (this.socket.readyState !== WebSocket.OPEN) {
      return;
    }
    if (this.kind === 'v1') {
      this.socket.send(encodeInput(typeof data === 'string' ? Buffer.from(data, 'utf8') : data));
    } else {
      this.socket.send(typeof data === 'string' ? data : data.toString('utf8'));
    }
  }

  /** v1: start or stop acknowledging; starting acknowledges everything received at once. */
  setAck(on: boolean): void {
    this._ack = on;
    if (on && this.kind === 'v1' && this.offset > this._acked) {
      this._acked = this.offset;
      this.socket.send(encodeAck(this.offset));
    }
  }

  async close(code = 1000): Promise<void> {
    if (
      this.socket.readyState === WebSocket.CONNECTING ||
      this.socket.readyState === WebSocket.OPEN
    ) {
      this.socket.close(code);
    }
    const timer = setTimeout(() => this.socket.terminate(), 5000);
    await this.ended;
    clearTimeout(timer);
  }

  private _socketOnMessage(data: RawData, isBinary: boolean): void {
    const frame = data as Buffer;
    if (this.kind === 'legacy') {
      if (!isBinary) {
        this._received(frame);
      }
      return;
    }
    let message: ServerMessage;
    try {
      message = decodeServerMessage(frame);
    } catch {
      this.unknownFrames += 1; // a newer server's message type: not ours to judge here
      return;
    }
    switch (message.type) {
      case 'hello':
        this.hello = message.hello;
        this.helloAt = performance.now();
        this.offset = message.hello.offset;
        this._acked = message.hello.offset;
        this._ackBytes = message.hello.limits.ackBytes;
        return;
      case 'output': {
        const chunk = frame.subarray(1);
        this.offset += chunk.length;
        this._received(chunk);
        if (this._ack && this.offset - this._acked >= this._ackBytes) {
          this._acked = this.offset;
          this.socket.send(encodeAck(this.offset));
        }
        return;
      }
      case 'error':
        this.errorCode = message.error.code;
        return;
      case 'session':
        if (message.event.kind === 'skipped') {
          if (message.event.from !== this.offset) {
            this.skipMismatches += 1;
          }
          this.skippedBytes += message.event.to - message.event.from;
          this.offset = message.event.to;
        }
        return;
      default:
        return;
    }
  }
}
