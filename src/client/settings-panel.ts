/**
 * The settings panel: one form control per setting, named after it. A change is parsed like a
 * URL query value, applied at once and remembered.
 * @module
 */
import { parseSettings, type Settings, type SettingsStore } from './settings.js';

export class SettingsPanel {
  /**
   * @param _form the panel: one control per setting, named after it.
   * @param _toggle the button that opens and closes it.
   * @param _store where changes go.
   * @param _refocus gives the focus back (to the terminal) when Esc closes the panel.
   */
  constructor(
    private readonly _form: HTMLFormElement,
    private readonly _toggle: HTMLButtonElement,
    private readonly _store: SettingsStore,
    private readonly _refocus: () => void,
  ) {
    _form.addEventListener('submit', (event) => event.preventDefault());
    _form.addEventListener('change', (event) => this._formOnChange(event));
    _form.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        this.close();
        this._refocus();
      }
    });
    _toggle.addEventListener('click', () => (this.isOpen ? this.close() : this.open()));
    // A press anywhere else closes it, as a popup menu would.
    document.addEventListener('pointerdown', (event) => {
      const target = event.target as Node;
      if (this.isOpen && !_form.contains(target) && !_toggle.contains(target)) {
        this.close();
      }
    });
    _store.onChange((settings) => this.reflect(settings));
    this.reflect(_store.current);
  }

  get isOpen(): boolean {
    return !this._form.hidden;
  }

  open(): void {
    this._form.hidden = false;
    this._toggle.setAttribute('aria-expanded', 'true');
    this._form.querySelector<HTMLElement>('select, input')?.focus();
  }

  close(): void {
    this._form.hidden = true;
    this._toggle.setAttribute('aria-expanded', 'false');
  }

  /** Shows `settings` in the controls. */
  reflect(settings: Settings): void {
    for (const [name, value] of Object.entries(settings)) {
      const control = this._form.elements.namedItem(name);
      if (control instanceof HTMLInputElement && control.type === 'checkbox') {
        control.checked = value === true;
      } else if (control instanceof HTMLInputElement || control instanceof HTMLSelectElement) {
        control.value = String(value);
      }
    }
  }

  private _formOnChange(event: Event): void {
    const control = event.target;
    if (!(control instanceof HTMLInputElement || control instanceof HTMLSelectElement)) {
      return;
    }
    const text =
      control instanceof HTMLInputElement && control.type === 'checkbox'
        ? String(control.checked)
        : control.value;
    const { settings } = parseSettings([[control.name, text]]);
    if (Object.keys(settings).length > 0) {
      this._store.update(settings);
    } else {
      this.reflect(this._store.current); // an out-of-range number: show the value in effect
    }
  }
}
