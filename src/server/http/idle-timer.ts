/**
 * Counts down while the server is idle and fires once the whole period passed without activity:
 * the clock behind `--exit-when-idle`. Whether the server is idle is decided by its owner.
 * @module
 */

import { MAX_TIMER_SECONDS } from '../timer-limits.js';

/** setTimeout's limit: a longer delay overflows and fires at once. */
export const MAX_IDLE_SECONDS = MAX_TIMER_SECONDS;

export class IdleTimer {
  private _timer: NodeJS.Timeout | undefined;
  private _disposed = false;

  /**
   * @param _seconds how long the server must stay idle, > 0 and at most MAX_IDLE_SECONDS
   * @param _onExpire called each time a whole idle period has passed
   */
  constructor(
    private readonly _seconds: number,
    private readonly _onExpire: () => void,
  ) {
    if (!Number.isFinite(_seconds) || _seconds <= 0 || _seconds > MAX_IDLE_SECONDS) {
      throw new RangeError(
        `the idle timeout must be a number of seconds > 0 and <= ${MAX_IDLE_SECONDS}, got ${_seconds}`,
      );
    }
  }

  /** True while the countdown runs. */
  get running(): boolean {
    return this._timer !== undefined;
  }

  /**
   * Tells the timer the server's state: idle starts the countdown unless it already runs (so
   * repeated calls do not push the deadline back); busy cancels it.
   */
  update(idle: boolean): void {
    if (this._disposed) {
      return;
    }
    if (!idle) {
      this._cancel();
    } else if (this._timer === undefined) {
      this._timer = setTimeout(this._timerOnExpire, this._seconds * 1000);
      // The countdown alone must not keep a process alive that has nothing else to do.
      this._timer.unref();
    }
  }

  dispose(): void {
    this._disposed = true;
    this._cancel();
  }

  private _cancel(): void {
    if (this._timer !== undefined) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
  }

  private readonly _timerOnExpire = (): void => {
    this._timer = undefined;
    this._onExpire();
  };
}
