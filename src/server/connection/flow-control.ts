/**
 * End-to-end flow control as a small pure state machine: fed with output offsets, the client's
 * acknowledgements and the socket's buffered byte count, it says when to pause and when to
 * resume the shell. See docs/flow-control.md.
 * @module
 */

export interface FlowControlOptions {
  /** Pause when unacknowledged or buffered bytes exceed this. */
  readonly highWaterBytes: number;
  /** Resume when both are below this again. */
  readonly lowWaterBytes: number;
  /** Whether the client acknowledges output (v1); legacy clients only have the socket half. */
  readonly acknowledged: boolean;
  /** Offset of the first byte this connection sends (non-zero after a resume). */
  readonly startOffset?: number;
}

export type FlowTransition = 'pause' | 'resume' | undefined;

export class FlowControl {
  private _sentOffset: number;
  private _ackedOffset: number;
  private _buffered = 0;
  private _paused = false;
  private _pauses = 0;

  constructor(private readonly _options: FlowControlOptions) {
    if (!(_options.lowWaterBytes >= 0 && _options.lowWaterBytes < _options.highWaterBytes)) {
      throw new RangeError('lowWaterBytes must be at least 0 and below highWaterBytes');
    }
    this._sentOffset = _options.startOffset ?? 0;
    this._ackedOffset = this._sentOffset;
  }

  get paused(): boolean {
    return this._paused;
  }

  /** How many times the source was paused; for logs and metrics. */
  get pauses(): number {
    return this._pauses;
  }

  get sentOffset(): number {
    return this._sentOffset;
  }

  get ackedOffset(): number {
    return this._ackedOffset;
  }

  /** Output bytes sent but not yet acknowledged (0 for legacy clients). */
  get unacknowledged(): number {
    return this._options.acknowledged ? this._sentOffset - this._ackedOffset : 0;
  }

  /** `bytes` of output were handed to the socket, which now buffers `bufferedAmount`. */
  sent(bytes: number, bufferedAmount: number): FlowTransition {
    this._sentOffset += bytes;
    this._buffered = bufferedAmount;
    return this._evaluate();
  }

  /**
   * The client processed output up to `offset`. Throws RangeError for an offset beyond what was
   * sent: the client is broken or hostile. An older offset than the last one changes nothing.
   */
  acknowledged(offset: number): FlowTransition {
    if (offset > this._sentOffset) {
      throw new RangeError(`ack offset ${offset} is beyond the sent offset ${this._sentOffset}`);
    }
    if (offset > this._ackedOffset) {
      this._ackedOffset = offset;
    }
    return this._evaluate();
  }

  /**
   * `bytes` of output were skipped (they left the replay before this viewer caught up): the
   * numbering moves on as if they had been sent and acknowledged.
   */
  skipped(bytes: number): void {
    this._sentOffset += bytes;
    this._ackedOffset += bytes;
  }

  /** The socket's buffered byte count changed (a write completed). */
  drained(bufferedAmount: number): FlowTransition {
    this._buffered = bufferedAmount;
    return this._evaluate();
  }

  private _evaluate(): FlowTransition {
    const pressure = Math.max(this.unacknowledged, this._buffered);
    if (!this._paused && pressure > this._options.highWaterBytes) {
      this._paused = true;
      this._pauses += 1;
      return 'pause';
    }
    if (this._paused && pressure < this._options.lowWaterBytes) {
      this._paused = false;
      return 'resume';
    }
    return undefined;
  }
}
