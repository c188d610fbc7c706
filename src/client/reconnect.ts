/**
 * When the page tries again after losing its connection: soon at first, then backing off to a
 * cap, with jitter so that many pages cut by the same network event do not return in lockstep.
 * Pure, so the schedule is testable.
 * @module
 */

/** Close codes after which the shell may still be there: the network, not the server, ended it. */
const RESUMABLE_CLOSE_CODES = new Set([
  1005, // no status: the connection ended without a close frame
  1006, // abnormal: lost
  1011, // the server hit an error
  1012, // service restart
  1013, // try again later
  4010, // the server stopped hearing us (we rarely see it: the socket is cut)
]);

export function isResumableClose(code: number): boolean {
  return RESUMABLE_CLOSE_CODES.has(code);
}

/**
 * Close codes that end the page's hold on its shell for good, whatever it was doing (a first
 * connection, a resume): trying again would be refused the same way, or would take the shell
 * from the page that has it.
 */
const FINAL_CLOSE_CODES = new Set([
  4008, // another window took this shell over
  4013, // a read-only page sent input
  4014, // the share link was revoked or expired, or the owner cut this page off
  4015, // the session was ended (through the API)
]);

export function isFinalClose(code: number): boolean {
  return FINAL_CLOSE_CODES.has(code);
}

export class ReconnectSchedule {
  private _attempt = 0;

  /**
   * @param _baseMs the first delay
   * @param _maxMs the longest delay
   * @param _random a source of [0, 1) for the jitter
   */
  constructor(
    private readonly _baseMs = 500,
    private readonly _maxMs = 10_000,
    private readonly _random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt: doubling from the base, ±20 %, at most the cap. */
  next(): number {
    const plain = Math.min(this._maxMs, this._baseMs * 2 ** this._attempt);
    this._attempt += 1;
    const jittered = plain * (0.8 + 0.4 * this._random());
    return Math.round(Math.min(this._maxMs, jittered));
  }

  /** Attempts so far since the last success. */
  get attempts(): number {
    return this._attempt;
  }

  reset(): void {
    this._attempt = 0;
  }
}
