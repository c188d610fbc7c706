/**
 * A short-lived notice at the bottom of the page ("Copied", "Paste was blocked…"): text only,
 * announced to screen readers, gone after a few seconds.
 * @module
 */

export class Notice {
  private _timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param _element the notice element (role=status).
   * @param _durationMs how long a notice stays. @default 2500
   */
  constructor(
    private readonly _element: HTMLElement,
    private readonly _durationMs = 2500,
  ) {}

  /** Shows `message` for `durationMs` (default: the notice's own duration). */
  show(message: string, durationMs = this._durationMs): void {
    // textContent: a notice may quote what the shell printed.
    this._element.textContent = message;
    this._element.hidden = false;
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._expire(), durationMs);
  }

  private _expire(): void {
    this._element.hidden = true;
    this._element.textContent = '';
  }
}
