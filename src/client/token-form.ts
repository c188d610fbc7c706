/**
 * The small form that asks for the access token when the page's URL carries none (a link shared
 * without its fragment) or the one it carried was refused.
 * @module
 */

export interface TokenFormElements {
  readonly form: HTMLFormElement;
  readonly input: HTMLInputElement;
  readonly message: HTMLElement;
}

export class TokenForm {
  private _submitted: ((token: string) => void) | undefined;

  constructor(private readonly _elements: TokenFormElements) {
    _elements.form.addEventListener('submit', (event) => this._formOnSubmit(event));
  }

  /** Shows the form with `message` (text); `submitted` gets the token the user entered. */
  ask(message: string, submitted: (token: string) => void): void {
    const { form, input, message: text } = this._elements;
    text.textContent = message;
    this._submitted = submitted;
    form.hidden = false;
    input.value = '';
    input.focus();
  }

  hide(): void {
    this._elements.form.hidden = true;
    this._submitted = undefined;
  }

  get visible(): boolean {
    return !this._elements.form.hidden;
  }

  private _formOnSubmit(event: SubmitEvent): void {
    // Never a navigation: the CSP forbids form actions, and the token must not reach a URL.
    event.preventDefault();
    const token = this._elements.input.value.trim();
    const submitted = this._submitted;
    if (token === '' || submitted === undefined) {
      return;
    }
    this.hide();
    submitted(token);
  }
}
