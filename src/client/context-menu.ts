/**
 * The terminal's right-click menu: Copy, Paste, Select all, Find. Shift+right-click keeps the
 * browser's own menu (for its spelling, translation or extension items).
 * @module
 */

export interface MenuItem {
  /** Matches the `data-action` of a button inside the menu element. */
  readonly action: string;
  /** Whether the item can be used right now (Copy needs a selection). @default always */
  readonly enabled?: () => boolean;
  run(): void;
}

export class ContextMenu {
  private readonly _items = new Map<string, MenuItem>();

  /**
   * @param _menu the menu element (role=menu) holding one button per item.
   * @param target where a right-click opens it.
   * @param items what the buttons do.
   * @param _refocus gives the focus back (to the terminal) when the menu closes with it.
   */
  constructor(
    private readonly _menu: HTMLElement,
    target: HTMLElement,
    items: readonly MenuItem[],
    private readonly _refocus: () => void,
  ) {
    for (const item of items) {
      this._items.set(item.action, item);
    }
    target.addEventListener('contextmenu', (event) => this._targetOnContextMenu(event));
    _menu.addEventListener('click', (event) => this._menuOnClick(event));
    _menu.addEventListener('keydown', (event) => this._menuOnKeydown(event));
    // Any press elsewhere closes it, as native menus do.
    document.addEventListener('pointerdown', (event) => {
      if (!this._menu.contains(event.target as Node)) {
        this.close();
      }
    });
    window.addEventListener('blur', () => this.close());
  }

  get isOpen(): boolean {
    return !this._menu.hidden;
  }

  open(x: number, y: number): void {
    for (const button of this._buttons()) {
      const item = this._items.get(button.dataset.action ?? '');
      button.disabled = item?.enabled?.() === false;
    }
    const menu = this._menu;
    menu.hidden = false;
    // Keep it inside the window, whichever corner the click was near.
    const { width, height } = menu.getBoundingClientRect();
    menu.style.left = `${Math.max(0, Math.min(x, window.innerWidth - width))}px`;
    menu.style.top = `${Math.max(0, Math.min(y, window.innerHeight - height))}px`;
    this._buttons()
      .find((button) => !button.disabled)
      ?.focus();
  }

  close(): void {
    const hadFocus = this._menu.contains(document.activeElement);
    this._menu.hidden = true;
    if (hadFocus) {
      this._refocus();
    }
  }

  private _buttons(): HTMLButtonElement[] {
    return [...this._menu.querySelectorAll<HTMLButtonElement>('button[data-action]')];
  }

  private _targetOnContextMenu(event: MouseEvent): void {
    if (event.shiftKey) {
      return;
    }
    event.preventDefault();
    this.open(event.clientX, event.clientY);
  }

  private _menuOnClick(event: MouseEvent): void {
    const button = (event.target as Element).closest<HTMLButtonElement>('button[data-action]');
    const item = this._items.get(button?.dataset.action ?? '');
    if (button === null || button.disabled || item === undefined) {
      return;
    }
    this.close();
    item.run();
  }

  private _menuOnKeydown(event: KeyboardEvent): void {
    const buttons = this._buttons().filter((button) => !button.disabled);
    const index = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (event.key === 'Escape') {
      event.preventDefault();
      this.close();
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : buttons.length - 1;
      buttons[(index + step) % buttons.length]?.focus();
    }
  }
}
