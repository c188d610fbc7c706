/**
 * Server-side pings: a peer that vanished without a close frame (a laptop gone to sleep, a cut
 * cable) is noticed within two intervals. The server pings because browsers throttle the
 * timers of background tabs, so the page cannot be trusted to.
 * @module
 */
import type { WebSocket } from 'ws';

export class Heartbeat {
  private _answered = true;
  private readonly _timer: NodeJS.Timeout;

  /**
   * @param _ws the socket to watch
   * @param intervalMs time between pings; the peer has one interval to answer each
   * @param _onTimeout called once when a ping went unanswered
   * @param _onPing called with each ping: v1 also sends a message the page can see (browsers
   *   answer pings by themselves but never show them to the page)
   */
  constructor(
    private readonly _ws: WebSocket,
    intervalMs: number,
    private readonly _onTimeout: () => void,
    private readonly _onPing: () => void = () => undefined,
  ) {
    _ws.on('pong', this._socketOnPong);
    _ws.on('message', this._socketOnPong);
    this._timer = setInterval(this._timerOnTick, intervalMs);
  }

  dispose(): void {
    clearInterval(this._timer);
    this._ws.off('pong', this._socketOnPong);
    this._ws.off('message', this._socketOnPong);
  }

  /** Any frame from the peer, a pong or a message, proves it is there. */
  private readonly _socketOnPong = (): void => {
    this._answered = true;
  };

  private readonly _timerOnTick = (): void => {
    if (this._ws.isPaused) {
      // We stopped reading the socket (input backpressure: the shell is not reading what was
      // typed), so the peer's pongs wait unread behind its input and its silence proves
      // nothing. Judge afresh once reading resumes.
      this._answered = true;
      return;
    }
    if (!this._answered) {
      this.dispose();
      this._onTimeout();
      return;
    }
    this._answered = false;
    this._ws.ping();
    this._onPing();
  };
}
