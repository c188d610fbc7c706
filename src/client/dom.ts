/**
 * Small DOM helpers for the page's panels: elements built with text only (`textContent`, never
 * HTML: what they show comes from the server and the shell), and a popup that opens from a bar
 * button and closes on Esc or a press elsewhere.
 * @module
 */

type Child = Node | string | undefined | false;

/** `<tag class=...>` with `text` or children; attributes set as attributes (never as HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { class?: string; text?: string; attrs?: Record<string, string> } = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.class !== undefined) element.className = props.class;
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    element.setAttribute(name, value);
  }
  if (props.text !== undefined) element.textContent = props.text;
  for (const child of children) {
    if (child !== undefined && child !== false) {
      element.append(child); // a string is appended as a text node
    }
  }
  return element;
}

/** A button that does `run` on click (a click that does not take the focus from a field). */
export function button(
  label: string,
  run: () => void,
  attrs: Record<string, string> = {},
): HTMLButtonElement {
  const made = el('button', { text: label, attrs: { type: 'button', ...attrs } });
  made.addEventListener('click', run);
  return made;
}

/** A panel that a bar button opens and closes; Esc or a press elsewhere closes it too. */
export class Popup {
  private readonly _listeners: Array<(open: boolean) => void> = [];

  /**
   * @param panel the panel element (hidden while closed)
   * @param toggle the bar button
   * @param refocus gives the focus back (to the terminal) when Esc closes the panel
   */
  constructor(
    readonly panel: HTMLElement,
    readonly toggle: HTMLButtonElement,
    private readonly _refocus: () => void,
  ) {
    toggle.addEventListener('click', () => (this.isOpen ? this.close() : this.open()));
    panel.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        this.close();
        this._refocus();
      }
    });
    // Esc on the bar's button, or with the focus nowhere in particular (the button pressed in
    // the panel is gone).
    document.addEventListener('keydown', (event) => {
      const target = event.target;
      if (
        event.key === 'Escape' &&
        this.isOpen &&
        (target === document.body || target === toggle)
      ) {
        this.close();
        this._refocus();
      }
    });
    document.addEventListener('pointerdown', (event) => {
      const target = event.target as Node;
      if (this.isOpen && !panel.contains(target) && !toggle.contains(target)) {
        this.close();
      }
    });
  }

  get isOpen(): boolean {
    return !this.panel.hidden;
  }

  /** Called with true when the panel opens, false when it closes. */
  onToggle(listener: (open: boolean) => void): void {
    this._listeners.push(listener);
  }

  open(): void {
    if (this.isOpen) return;
    this.panel.hidden = false;
    this.toggle.setAttribute('aria-expanded', 'true');
    for (const listener of this._listeners) listener(true);
  }

  close(): void {
    if (!this.isOpen) return;
    this.panel.hidden = true;
    this.toggle.setAttribute('aria-expanded', 'false');
    for (const listener of this._listeners) listener(false);
  }
}
