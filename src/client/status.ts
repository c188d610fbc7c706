/**
 * The page's state, shown in the top bar: never ambiguous, one state at a time, always text
 * (never HTML), with the one action that state offers (a new shell, connect again).
 * @module
 */

export type PageState =
  | 'connecting'
  | 'enter-token'
  | 'connected'
  | 'reconnecting'
  | 'exited'
  | 'auth-failed'
  | 'disconnected';

export interface StatusAction {
  readonly label: string;
  run(): void;
}

export interface StatusElements {
  /** Carries `data-state`; role=status so screen readers announce changes. */
  readonly root: HTMLElement;
  readonly text: HTMLElement;
  readonly action: HTMLButtonElement;
  /** The reconnect countdown (seconds left); hidden in every other state. */
  readonly countdown: HTMLElement;
}

export class StatusView {
  private _action: StatusAction | undefined;

  constructor(private readonly _elements: StatusElements) {
    _elements.action.addEventListener('click', () => this._action?.run());
  }

  get state(): PageState {
    return this._elements.root.dataset.state as PageState;
  }

  /** Shows `state` with `message`; an `action` adds its button (e.g. 'New shell'). */
  show(state: PageState, message: string, action?: StatusAction): void {
    const { root, text, action: button, countdown } = this._elements;
    root.dataset.state = state;
    document.body.dataset.state = state; // the CSS dims the terminal when it is not live
    // textContent, never innerHTML: the message may carry text from the server or the shell.
    text.textContent = message;
    countdown.hidden = true;
    countdown.textContent = '';
    this._action = action;
    button.hidden = action === undefined;
    button.textContent = action?.label ?? '';
  }

  /**
   * Reserved for automatic reconnection with resume (not wired yet): "Reconnecting (reason)"
   * with the seconds left before the next attempt. Call again each second to update the count;
   * `action` can offer "Reconnect now".
   */
  showReconnecting(reason: string, secondsLeft: number, action?: StatusAction): void {
    this.show('reconnecting', `Reconnecting (${reason})`, action);
    const { countdown } = this._elements;
    countdown.hidden = false;
    countdown.textContent = `in ${Math.max(0, Math.ceil(secondsLeft))} s`;
  }
}
