/**
 * Test clients for both wire formats over a real WebSocket: they collect every output byte,
 * record how the connection closed, and wait (with deadlines) for what a user would see.
 * @module
 */
import { WebSocket } from 'ws';
import {
  SUBPROTOCOL_V1,
  decodeServerMessage,
  encodeAck,
  encodeClientHello,
  encodeInput,
  encodeResize,
  type ClientHello,
  type ErrorMessage,
  type ExitStatus,
  type ServerHello,
  type SessionEvent,
} from '../../src/protocol/v1.js';
import { encodeLegacyResize } from '../../src/protocol/legacy.js';
import { waitFor, type WaitOptions } from './wait-for.js';

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

abstract class TestClient {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<Closed>;
  protected _output: Buffer[] = [];
  protected _outputLength = 0;
  private _closedInfo: Closed | undefined;

  constructor(url: string, protocols: string[]) {
    this.socket = new WebSocket(url, protocols);
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
    this.closed = new Promise((resolve) => {
      this.socket.once('close', (code, reason) => {
        this._closedInfo = { code, reason: reason.toString('utf8') };
        resolve(this._closedInfo);
      });
    });
    this.socket.on('error', () => {
      // recorded through 'close'
    });
  }

  get closeInfo(): Closed | undefined {
    return this._closedInfo;
  }

  /** All output bytes received so far. */
  output(): Buffer {
    if (this._output.length > 1) {
      this._output = [Buffer.concat(this._output)];
    }
    return this._output[0] ?? Buffer.alloc(0);
  }

  text(): string {
    return this.output().toString('utf8');
  }

  /** The last `bytes` bytes of output, without joining all of it: cheap for large outputs. */
  tail(bytes: number): Buffer {
    const parts: Buffer[] = [];
    let length = 0;
    for (let i = this._output.length - 1; i >= 0 && length < bytes; i--) {
      const part = this._output[i] as Buffer;
      parts.unshift(part);
      length += part.length;
    }
    const joined = Buffer.concat(parts);
    return joined.subarray(Math.max(0, joined.length - bytes));
  }

  get outputLength(): number {
    return this._outputLength;
  }

  /** Waits until the output contains `needle` (a string or a pattern). */
  async waitForText(needle: string | RegExp, options: WaitOptions = {}): Promise<string> {
    try {
      await waitFor(
        () =>
          typeof needle === 'string' ? this.text().includes(needle) : needle.test(this.text()),
        { message: `output to contain ${String(needle)}`, ...options },
      );
    } catch (error) {
      // The output at the moment of failure, not at the start of the wait.
      const tail = JSON.stringify(this.text().slice(-300));
      throw new Error(`${(error as Error).message}; the output ends with ${tail}`);
    }
    return this.text();
  }

  abstract sendInput(text: string): void;

  close(code = 1000): void {
    this.socket.close(code);
  }

  protected _pushOutput(data: Buffer): void {
    this._output.push(data);
    this._outputLength += data.length;
  }
}

/** The original format: text frames, the first one the credential when auth is on. */
export class LegacyClient extends TestClient {
  /** Every text frame received, in order (errors included). */
  readonly frames: string[] = [];

  constructor(url: string, options: { credential?: string } = {}) {
    super(url, []);
    this.socket.on('message', (data: Buffer, isBinary) => {
      const buffer = Buffer.from(data);
      if (!isBinary) {
        this.frames.push(buffer.toString('utf8'));
      }
      this._pushOutput(buffer);
    });
    if (options.credential !== undefined) {
      const credential = options.credential;
      void this.opened.then(() => this.socket.send(credential));
    }
  }

  sendInput(text: string): void {
    this.socket.send(text);
  }

  resize(rows: number, cols: number): void {
    this.socket.send(encodeLegacyResize(rows, cols));
  }
}

export interface V1ClientOptions {
  readonly credential?: string;
  readonly cols?: number;
  readonly rows?: number;
  readonly resume?: ClientHello['resume'];
  /** Join this live session as one more viewer (hello `attach`). */
  readonly attach?: string;
  /** A share link's secret, instead of the credential (hello `share`). */
  readonly share?: string;
  /** Ask for SESSION messages (hello `events`); they are kept in `events`. */
  readonly events?: boolean;
  /** Acknowledge output as it arrives (a reading client); false: never acknowledge. @default true */
  readonly autoAck?: boolean;
  /** Take SNAPSHOT messages (hello `snapshot`); they are kept in `snapshots`. */
  readonly snapshot?: boolean;
}

/** Our binary protocol: hello first, then input, resize and acknowledgements. */
export class V1Client extends TestClient {
  hello: ServerHello | undefined;
  exit: ExitStatus | undefined;
  error: ErrorMessage | undefined;
  /** Every SESSION message received, in order. */
  readonly events: SessionEvent[] = [];
  /** Every SNAPSHOT received, in order (the text decoded). */
  readonly snapshots: Array<{ offset: number; cols: number; rows: number; text: string }> = [];
  private _ackedOffset = 0;
  private _receivedOffset = 0;
  autoAck: boolean;

  constructor(url: string, options: V1ClientOptions = {}) {
    super(url, [SUBPROTOCOL_V1]);
    this.autoAck = options.autoAck ?? true;
    this.socket.binaryType = 'nodebuffer';
    this.socket.on('message', (data: Buffer) => this._onMessage(Buffer.from(data)));
    void this.opened.then(() => {
      this.socket.send(
        encodeClientHello({
          cols: options.cols ?? 80,
          rows: options.rows ?? 24,
          ...(options.credential !== undefined ? { credential: options.credential } : {}),
          ...(options.resume !== undefined ? { resume: options.resume } : {}),
          ...(options.attach !== undefined ? { attach: options.attach } : {}),
          ...(options.share !== undefined ? { share: options.share } : {}),
          ...(options.events !== undefined ? { events: options.events } : {}),
          ...(options.snapshot !== undefined ? { snapshot: options.snapshot } : {}),
        }),
      );
    });
  }

  /** The SESSION messages of one kind received so far. */
  eventsOf<K extends SessionEvent['kind']>(kind: K): Extract<SessionEvent, { kind: K }>[] {
    return this.events.filter(
      (event): event is Extract<SessionEvent, { kind: K }> => event.kind === kind,
    );
  }

  /** Offset of the next output byte expected. */
  get receivedOffset(): number {
    return this._receivedOffset;
  }

  /** Waits for the server hello; fails at once when the socket closed without one. */
  async waitForHello(options: WaitOptions = {}): Promise<ServerHello> {
    await waitFor(() => this.hello !== undefined || this.closeInfo !== undefined, {
      message: 'the server hello',
      ...options,
    });
    if (this.hello === undefined) {
      const { code, reason } = this.closeInfo as Closed;
      throw new Error(`the socket closed with ${code} (${reason}) before the server hello`);
    }
    return this.hello;
  }

  sendInput(text: string): void {
    this.socket.send(encodeInput(Buffer.from(text, 'utf8')));
  }

  sendBytes(bytes: Uint8Array): void {
    this.socket.send(encodeInput(bytes));
  }

  resize(cols: number, rows: number): void {
    this.socket.send(encodeResize(cols, rows));
  }

  /** Acknowledges everything received so far. */
  ack(): void {
    this._ackedOffset = this._receivedOffset;
    this.socket.send(encodeAck(this._receivedOffset));
  }

  private _onMessage(frame: Buffer): void {
    const message = decodeServerMessage(frame);
    switch (message.type) {
      case 'hello':
        this.hello = message.hello;
        this._receivedOffset = message.hello.offset;
        this._ackedOffset = message.hello.offset;
        return;
      case 'output':
        this._pushOutput(Buffer.from(message.data));
        this._receivedOffset += message.data.length;
        if (
          this.autoAck &&
          this._receivedOffset - this._ackedOffset >= (this.hello?.limits.ackBytes ?? 65536)
        ) {
          this.ack();
        }
        return;
      case 'exit':
        this.exit = message.status;
        return;
      case 'error':
        this.error = message.error;
        return;
      case 'snapshot': {
        const { offset, cols, rows, data } = message.snapshot;
        this.snapshots.push({ offset, cols, rows, text: Buffer.from(data).toString('utf8') });
        break;
      }
      case 'session':
        this.events.push(message.event);
        if (message.event.kind === 'skipped') {
          // The next output byte has offset `to`: the output kept here has a gap.
          this._receivedOffset = message.event.to;
        }
        return;
    }
  }
}
