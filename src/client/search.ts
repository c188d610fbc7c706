/**
 * Search in the scrollback (Ctrl+Shift+F): a small box over the terminal's top right corner.
 * The search addon is fetched the first time the box opens, never before.
 * @module
 */
import type { Terminal } from '@xterm/xterm';
import type { ISearchOptions, SearchAddon } from '@xterm/addon-search';

export interface SearchElements {
  readonly form: HTMLFormElement;
  readonly input: HTMLInputElement;
  /** "3 of 12", "No matches": text. */
  readonly count: HTMLElement;
  readonly previous: HTMLButtonElement;
  readonly next: HTMLButtonElement;
  readonly close: HTMLButtonElement;
}

const SEARCH_OPTIONS: ISearchOptions = {
  incremental: true,
  // Decorations make the addon count the matches (onDidChangeResults) and highlight them all.
  decorations: {
    matchBackground: '#6b5a00',
    matchOverviewRuler: '#d4b000',
    activeMatchBackground: '#d48800',
    activeMatchColorOverviewRuler: '#ff9900',
  },
};

export class SearchBox {
  private _addon: Promise<SearchAddon> | undefined;

  constructor(
    private readonly _term: Terminal,
    private readonly _elements: SearchElements,
  ) {
    const { form, input, previous, next, close } = _elements;
    form.addEventListener('submit', (event) => event.preventDefault());
    input.addEventListener('input', () => void this._find('next', true));
    input.addEventListener('keydown', (event) => this._inputOnKeydown(event));
    previous.addEventListener('click', () => void this._find('previous'));
    next.addEventListener('click', () => void this._find('next'));
    close.addEventListener('click', () => this.close());
  }

  get isOpen(): boolean {
    return !this._elements.form.hidden;
  }

  /** Opens the box (loading the addon the first time), starting from the selected text. */
  open(): void {
    const { form, input } = this._elements;
    form.hidden = false;
    const selected = this._term.getSelection();
    if (selected !== '' && !selected.includes('\n')) {
      input.value = selected;
    }
    input.focus();
    input.select();
    void this._load();
  }

  close(): void {
    this._elements.form.hidden = true;
    this._elements.count.textContent = '';
    void this._addon?.then((addon) => addon.clearDecorations());
    this._term.focus();
  }

  toggle(): void {
    if (this.isOpen) {
      this.close();
    } else {
      this.open();
    }
  }

  private _load(): Promise<SearchAddon> {
    this._addon ??= import('@xterm/addon-search').then(({ SearchAddon: addonClass }) => {
      const addon = new addonClass();
      this._term.loadAddon(addon);
      addon.onDidChangeResults(({ resultIndex, resultCount }) => {
        this._elements.count.textContent =
          resultCount === 0
            ? 'No matches'
            : resultIndex < 0
              ? `${resultCount}+ matches`
              : `${resultIndex + 1} of ${resultCount}`;
      });
      return addon;
    });
    return this._addon;
  }

  private async _find(direction: 'next' | 'previous', incremental = false): Promise<void> {
    const addon = await this._load();
    const text = this._elements.input.value;
    if (text === '') {
      addon.clearDecorations();
      this._elements.count.textContent = '';
      return;
    }
    const options = { ...SEARCH_OPTIONS, incremental };
    if (direction === 'next') {
      addon.findNext(text, options);
    } else {
      addon.findPrevious(text, options);
    }
  }

  private _inputOnKeydown(event: KeyboardEvent): void {
    if (event.key === 'Escape') {
      event.preventDefault();
      this.close();
    } else if (event.key === 'Enter') {
      event.preventDefault();
      void this._find(event.shiftKey ? 'previous' : 'next');
    }
  }
}
