/**
 * Backpressure for input: when the shell does not read what the client types or pastes, the
 * pty's write queue grows in our memory; above a high mark the socket stops being read (the
 * client's own buffer fills instead) until the shell has caught up below a low mark.
 * @module
 */
import type { WebSocket } from 'ws';

const HIGH_WATER_BYTES = 256 * 1024;
const LOW_WATER_BYTES = 64 * 1024;
const POLL_MS = 10;

export class InputGate {
  private _timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly _ws: WebSocket,
    private readonly _backlog: () => number,
  ) {}

  /** Whether the socket is paused because the shell lags behind. */
  get closed(): boolean {
    return this._timer !== undefined;
  }

  /** Call after each write to the pty. */
  written(): void {
    if (this._timer === undefined && this._backlog() > HIGH_WATER_BYTES) {
      this._ws.pause();
      this._timer = setInterval(this._timerOnTick, POLL_MS);
    }
  }

  dispose(): void {
    clearInterval(this._timer);
    this._timer = undefined;
  }

  private readonly _timerOnTick = (): void => {
    if (this._backlog() < LOW_WATER_BYTES) {
      this.dispose();
      this._ws.resume();
    }
  };
}
