/**
 * One page on a session: its role, its own flow control and where it is in the output. The
 * session offers it each chunk; a viewer that fell behind while the shell runs on for others
 * skips live output and catches up from the session's replay later (docs/sessions.md).
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { ExitStatus, SessionEvent, ViewerInfo, ViewerRole } from '../../protocol/v1.js';
import { FlowControl, type FlowTransition } from '../connection/flow-control.js';

/** What a session needs from the connection a viewer stands for. */
export interface ViewerPort {
  /** Frames and sends one chunk of output, in order. */
  output(chunk: Buffer): void;
  /** Bytes the socket still buffers, for flow control. */
  readonly bufferedAmount: number;
  /** The page hears SESSION events (it is told of skipped output and moves its offset). */
  hearsEvents(): boolean;
  /** A change the page should know of (size, skipped output, viewers). */
  event(event: SessionEvent): void;
  /** Too much output is in flight to it: it stops getting live output until it catches up. */
  fellBehind(): void;
  /** The shell exited; every byte of its output was passed to `output` before. */
  exited(status: ExitStatus): void;
  /** Another connection took this viewer's place (a resume), or the session cut it off. */
  removed(reason: 'taken-over' | 'revoked' | 'ended'): void;
}

export interface ViewerOptions {
  readonly role: ViewerRole;
  /** The owner key of the credential it came with (see ownerKey). */
  readonly owner: string;
  readonly highWaterBytes: number;
  readonly lowWaterBytes: number;
  /** Whether the page acknowledges output (v1); legacy pages have only the socket's buffer. */
  readonly acknowledged: boolean;
  /** The share link it came through, if any. */
  readonly shareId?: string;
  /** The size its terminal has, which drives the session's when it writes. */
  readonly cols: number;
  readonly rows: number;
}

/**
 * How long small output waits for more before it goes to a page that did not type it: one
 * frame (and one write) per burst rather than per echoed keystroke, at a delay no one watching
 * can see. The page that typed gets its echo at once.
 */
export const COALESCE_MS = 16;

export class Viewer {
  readonly id = randomBytes(6).toString('hex');
  readonly since = Date.now();
  readonly role: ViewerRole;
  readonly owner: string;
  readonly shareId: string | undefined;
  /** Offset of the next output byte this viewer gets. */
  cursor = 0;
  /** Its terminal's size. */
  cols: number;
  rows: number;
  private _flow: FlowControl;
  /**
   * Output skipped without the page being told (it does not hear events): its offsets, and so
   * its acknowledgements, count that much less than ours.
   */
  private _skippedUntold = 0;
  /** Small output held for COALESCE_MS (see `send`); counted as sent already. */
  private _outbox: Buffer[] = [];
  private _outboxTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly port: ViewerPort,
    private readonly _options: ViewerOptions,
  ) {
    this.role = _options.role;
    this.owner = _options.owner;
    this.shareId = _options.shareId;
    this.cols = _options.cols;
    this.rows = _options.rows;
    this._flow = this._newFlow(0);
  }

  get writes(): boolean {
    return this.role !== 'reader';
  }

  /** Too much output is in flight to it: it gets no live output until it catches up. */
  get behind(): boolean {
    return this._flow.paused;
  }

  get unacknowledged(): number {
    return this._flow.unacknowledged;
  }

  get info(): ViewerInfo {
    return {
      id: this.id,
      role: this.role,
      since: this.since,
      ...(this.shareId !== undefined ? { shareId: this.shareId } : {}),
    };
  }

  /** Starts counting from `offset`: the first byte it will be sent. */
  startAt(offset: number): void {
    this.cursor = offset;
    this._flow = this._newFlow(offset);
  }

  /**
   * Sends `chunk` (which starts at the cursor); says whether it fell behind with it. `later`:
   * it may wait up to COALESCE_MS to go out with the next small chunks, as one frame.
   */
  send(chunk: Buffer, later = false): FlowTransition {
    if (later) {
      this._outbox.push(chunk);
      this._outboxTimer ??= setTimeout(this._flushOutbox, COALESCE_MS);
    } else {
      this._flushOutbox();
      this.port.output(chunk);
    }
    this.cursor += chunk.length;
    const transition = this._flow.sent(chunk.length, this.port.bufferedAmount);
    if (transition === 'pause') {
      this.port.fellBehind();
    }
    return transition;
  }

  /** Tells the page of a change in the session, after the output it was sent before it. */
  event(event: SessionEvent): void {
    this._flushOutbox();
    this.port.event(event);
  }

  /** The shell exited: the page gets the rest of the output, then the status. */
  exited(status: ExitStatus): void {
    this._flushOutbox();
    this.port.exited(status);
  }

  /** It left the session: what it still held is dropped with its socket. */
  dispose(): void {
    clearTimeout(this._outboxTimer);
    this._outboxTimer = undefined;
    this._outbox = [];
  }

  /** Output it will never get (gone from the replay): it goes on from `to`. */
  skip(to: number): void {
    this._flushOutbox();
    const from = this.cursor;
    this.cursor = to;
    this._flow.skipped(to - from);
    if (this.port.hearsEvents()) {
      this.port.event({ kind: 'skipped', from, to });
    } else {
      this._skippedUntold += to - from;
    }
  }

  /** The page processed output up to `offset`; throws RangeError past what it was sent. */
  acknowledged(offset: number): FlowTransition {
    return this._flow.acknowledged(offset + this._skippedUntold);
  }

  /** The socket sent some of its buffer. */
  drained(): FlowTransition {
    return this._flow.drained(this.port.bufferedAmount);
  }

  private readonly _flushOutbox = (): void => {
    clearTimeout(this._outboxTimer);
    this._outboxTimer = undefined;
    const held = this._outbox;
    if (held.length > 0) {
      this._outbox = [];
      this.port.output(held.length === 1 ? (held[0] as Buffer) : Buffer.concat(held));
    }
  };

  private _newFlow(startOffset: number): FlowControl {
    return new FlowControl({
      highWaterBytes: this._options.highWaterBytes,
      lowWaterBytes: this._options.lowWaterBytes,
      acknowledged: this._options.acknowledged,
      startOffset,
    });
  }
}
