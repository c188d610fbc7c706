/**
 * The page's side of the v1 protocol: one WebSocket, the hello with credential (or share link)
 * and size, output handed to the terminal and acknowledged once the terminal has processed it,
 * and the session's events (its size, output skipped, who watches).
 * @module
 */
import { errorForCloseCode } from '../protocol/errors.js';
import {
  SUBPROTOCOL_V1,
  decodeServerMessage,
  encodeAck,
  encodeClientHello,
  encodeInput,
  encodeResize,
  type ExitStatus,
  type ResumeRequest,
  type ScreenSnapshot,
  type ServerHello,
  type SessionEvent,
} from '../protocol/v1.js';

export interface ConnectionHandlers {
  /** The server accepted us and started (or resumed) the shell. */
  opened(hello: ServerHello): void;
  /** Shell output; call `processed` once the terminal has taken it in. */
  output(data: Uint8Array, processed: () => void): void;
  exited(status: ExitStatus): void;
  /** The screen to show before the output (after a HELLO with `snapshot`). */
  snapshot?(snapshot: ScreenSnapshot): void;
  /**
   * Something changed in the session (its size, who watches), or output was skipped: the
   * offsets already follow a skip, the handler only tells the user.
   */
  event?(event: SessionEvent): void;
  /** The connection ended; `code` is the close code, `reason` a readable text. */
  closed(code: number, reason: string, authFailed: boolean): void;
}

export interface ConnectionOptions {
  readonly url: string;
  readonly credential: string | undefined;
  readonly cols: number;
  readonly rows: number;
  /** Continue this session from `offset` (the first output byte not received yet). */
  readonly resume?: ResumeRequest;
  /** Join this live session as one more screen, from as far back as its replay reaches. */
  readonly attach?: string;
  /** A share link's secret, instead of the credential. */
  readonly share?: string;
}

/** An empty write: its callback runs once the terminal has parsed everything before it. */
const NOTHING = new Uint8Array(0);

const encoder = new TextEncoder();

export class ShellConnection {
  private readonly _socket: WebSocket;
  private _received = 0;
  private _processed = 0;
  private _acked = 0;
  private _ackBytes = 65536;
  private _errorText: string | undefined;
  private _opened = false;
  /** When the server was last heard from, and the watchdog that notices its silence. */
  private _lastHeard = Date.now();
  private _watchdog: ReturnType<typeof setInterval> | undefined;
  /** How long a silence means the server is gone (0: the server sends no heartbeat). */
  private _silenceMs = 0;
  /** Set once the page gave up on this socket: its late events change nothing. */
  private _abandoned = false;

  constructor(
    options: ConnectionOptions,
    private readonly _handlers: ConnectionHandlers,
  ) {
    this._socket = new WebSocket(options.url, [SUBPROTOCOL_V1]);
    this._socket.binaryType = 'arraybuffer';
    this._socket.addEventListener('open', () => {
      this._send(
        encodeClientHello({
          cols: options.cols,
          rows: options.rows,
          ...(options.credential !== undefined ? { credential: options.credential } : {}),
          ...(options.share !== undefined ? { share: options.share } : {}),
          ...(options.resume !== undefined ? { resume: options.resume } : {}),
          ...(options.attach !== undefined ? { attach: options.attach } : {}),
          events: true, // SESSION messages: size, skipped output, viewers
          snapshot: true, // the screen instead of a replay that lost its beginning
        }),
      );
    });
    this._socket.addEventListener('message', (event) => this._socketOnMessage(event));
    this._socket.addEventListener('close', (event) => this._socketOnClose(event));
  }

  /** Offset of the next output byte: where a resume continues. */
  get receivedOffset(): number {
    return this._received;
  }

  /** Offset of the next output byte the terminal has yet to process. */
  get processedOffset(): number {
    return this._processed;
  }

  /** Whether the server said hello: only then does `receivedOffset` mean anything. */
  get greeted(): boolean {
    return this._opened;
  }

  get isOpen(): boolean {
    return this._opened && this._socket.readyState === WebSocket.OPEN;
  }

  sendInput(data: string): void {
    if (this.isOpen) {
      this._send(encodeInput(encoder.encode(data)));
    }
  }

  /** xterm.js reports some mouse reports as a binary string: one character per byte. */
  sendBinary(data: string): void {
    if (this.isOpen) {
      this._send(encodeInput(Uint8Array.from(data, (char) => char.charCodeAt(0) & 0xff)));
    }
  }

  resize(cols: number, rows: number): void {
    if (this.isOpen) {
      this._send(encodeResize(cols, rows));
    }
  }

  /**
   * Gives up now on a socket that has been silent past its heartbeat, instead of at the
   * watchdog's next tick (a hidden tab's timers may run late); called when the tab comes back.
   */
  checkHeartbeat(): void {
    if (this._watchdog !== undefined && Date.now() - this._lastHeard > this._silenceMs) {
      this.abandon(`no answer from the server for ${Math.round(this._silenceMs / 1000)} s`);
    }
  }

  /**
   * Gives up on the socket at once and reports it as lost (`closed` with 1006 and `reason`):
   * closing it properly would wait for a handshake that may never come. The close code, 4000,
   * is not 1000, so the server keeps the shell for a resume.
   */
  abandon(reason: string, closeReason = 'no heartbeat'): void {
    if (this._abandoned) {
      return;
    }
    this._stopWatchdog();
    this._abandoned = true;
    this._socket.close(4000, closeReason);
    this._handlers.closed(1006, reason, false);
  }

  /**
   * Closes the socket and hears no more of it. 1000 says the page is done with the shell (the
   * server ends it when nobody else watches); 4000 that it may come back (the shell waits for the
   * resume window).
   */
  close(code: 1000 | 4000 = 1000, reason = 'page closed'): void {
    this._stopWatchdog();
    this._abandoned = true;
    this._socket.close(code, reason);
  }

  private _send(frame: Uint8Array): void {
    if (this._socket.readyState === WebSocket.OPEN) {
      this._socket.send(frame);
    }
  }

  private _socketOnMessage(event: MessageEvent): void {
    if (!(event.data instanceof ArrayBuffer)) {
      return; // v1 servers send binary frames only
    }
    if (this._abandoned) {
      return;
    }
    this._lastHeard = Date.now();
    const message = decodeServerMessage(new Uint8Array(event.data));
    switch (message.type) {
      case 'output': {
        const length = message.data.length;
        this._received += length;
        this._handlers.output(message.data, () => this._outputProcessed(length));
        return;
      }
      case 'hello':
        this._opened = true;
        this._received = message.hello.offset;
        this._processed = message.hello.offset;
        this._acked = message.hello.offset;
        this._ackBytes = message.hello.limits.ackBytes;
        this._startWatchdog(message.hello.limits.heartbeatSeconds);
        this._handlers.opened(message.hello);
        return;
      case 'snapshot':
        this._handlers.snapshot?.(message.snapshot);
        return;
      case 'heartbeat':
        return; // hearing it is the point
      case 'exit':
        this._handlers.exited(message.status);
        return;
      case 'error':
        this._errorText = message.error.message;
        return;
      case 'session':
        if (message.event.kind === 'skipped') {
          this._skipped(message.event.to);
        }
        this._handlers.event?.(message.event);
        return;
    }
  }

  /**
   * The page fell behind and the server skipped output up to `to`: the next byte has offset
   * `to`. The received offset (where a resume continues) moves at once; the processed one (what
   * the ACKs say) once the terminal has parsed what came before the gap.
   */
  private _skipped(to: number): void {
    if (to <= this._received) {
      return;
    }
    this._received = to;
    this._handlers.output(NOTHING, () => {
      this._processed = to;
      this._outputProcessed(0);
    });
  }

  /** Acknowledges in steps of ackBytes: the server resumes the shell as the page catches up. */
  private _outputProcessed(length: number): void {
    this._processed += length;
    if (this._processed - this._acked >= this._ackBytes) {
      this._acked = this._processed;
      this._send(encodeAck(this._processed));
    }
  }

  /**
   * A dead network sends no close: TCP may take minutes to give up. The server sends a
   * HEARTBEAT with every ping, so silence for two intervals and a margin means the connection
   * is gone; the page then gives up on the socket at once (closing it properly would wait for
   * a handshake that cannot come) and reports it as lost, which starts a resume.
   */
  private _startWatchdog(heartbeatSeconds: number): void {
    if (heartbeatSeconds <= 0) {
      return;
    }
    this._silenceMs = heartbeatSeconds * 2000 + 5000;
    this._watchdog = setInterval(
      () => this.checkHeartbeat(),
      Math.min(heartbeatSeconds * 500, 5000),
    );
  }

  private _stopWatchdog(): void {
    clearInterval(this._watchdog);
    this._watchdog = undefined;
  }

  private _socketOnClose(event: CloseEvent): void {
    this._stopWatchdog();
    if (this._abandoned) {
      return;
    }
    const code = event.code;
    const known = errorForCloseCode(code);
    const reason = this._errorText ?? (event.reason !== '' ? event.reason : describeClose(code));
    this._handlers.closed(code, reason, known === 'XJS_ERR_AUTH_FAILED');
  }
}

function describeClose(code: number): string {
  if (code === 1006) {
    return 'connection lost';
  }
  return `connection closed (code ${code})`;
}
