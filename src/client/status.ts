/**
 * The connection state shown above the terminal: never ambiguous, always text (never HTML).
 * @module
 */

export type ConnectionState =
  'connecting' | 'connected' | 'auth-failed' | 'disconnected' | 'exited';

export class StatusBar {
  constructor(
    private readonly _element: HTMLElement,
    private readonly _text: HTMLElement,
  ) {}

  get state(): ConnectionState {
    return this._element.dataset.state as ConnectionState;
  }

  show(state: ConnectionState, message: string): void {
    this._element.dataset.state = state;
    // textContent, never innerHTML: the message may carry text from the server or the shell.
    this._text.textContent = message;
  }
}
