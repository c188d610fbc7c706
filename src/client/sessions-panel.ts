/**
 * The Sessions menu: the server's live shells of this credential (`GET api/sessions`), what
 * runs in each, since when, how long idle, its size and who watches; attach this page to one
 * (no reload: the terminal is cleared and shows that shell), open one in a new tab, or end one.
 * Not offered to a page that came through a share link: it holds no credential of the server's.
 * @module
 */
import { describeAgo, describeCommand, describeDuration, describeViewers } from './describe.js';
import { button, el, type Popup } from './dom.js';
import type { ApiSession, SessionApi } from './session-api.js';

export interface SessionsPanelElements {
  readonly popup: Popup;
  /** Where the rows go. */
  readonly list: HTMLElement;
  /** "Loading…", "No other shell", errors: text. */
  readonly message: HTMLElement;
  readonly refresh: HTMLButtonElement;
}

export interface SessionsPanelActions {
  /** The shell this page shows, if any. */
  current(): string | undefined;
  /** Shows `sessionId` in this page instead. */
  attach(sessionId: string): void;
  /** Opens `sessionId` in a new tab. */
  openInNewTab(sessionId: string): void;
}

/** While open, the list is read again this often (idle times, screens). */
const REFRESH_MS = 5000;

export class SessionsPanel {
  private _timer: ReturnType<typeof setInterval> | undefined;
  /** The session whose End was pressed once: a second press ends it. */
  private _confirming: string | undefined;
  private _loading = false;
  private _sessions: readonly ApiSession[] = [];
  /** Ended from here: the server lists a shell until it has hung up (a moment). */
  private readonly _ended = new Set<string>();

  constructor(
    private readonly _elements: SessionsPanelElements,
    private readonly _api: SessionApi,
    private readonly _actions: SessionsPanelActions,
  ) {
    _elements.refresh.addEventListener('click', () => void this.load());
    _elements.popup.onToggle((open) => {
      clearInterval(this._timer);
      this._timer = undefined;
      this._confirming = undefined;
      if (open) {
        this._show(); // what was listed before, with this page's shell marked as it is now
        this._elements.message.textContent = 'Loading…';
        void this.load();
        this._timer = setInterval(() => void this.load(), REFRESH_MS);
      }
    });
  }

  /** Reads the list again and shows it. */
  async load(): Promise<void> {
    if (this._loading) return;
    this._loading = true;
    try {
      this._sessions = await this._api.list();
      this._show();
    } catch (error) {
      this._elements.message.textContent = `Cannot list the shells: ${(error as Error).message}`;
    } finally {
      this._loading = false;
    }
  }

  private _show(): void {
    const { list, message } = this._elements;
    const current = this._actions.current();
    const live = this._sessions.filter(
      (session) => !session.exited && !this._ended.has(session.id),
    );
    message.textContent =
      live.length === 0
        ? 'No shell is running.'
        : `${live.length} shell${live.length === 1 ? '' : 's'} running with this access token.`;
    const now = Date.now();
    list.replaceChildren(
      ...live.map((session) => {
        const isCurrent = session.id === current;
        const actions = el(
          'div',
          { class: 'row-actions' },
          isCurrent
            ? el('span', { class: 'tag', text: 'this page' })
            : button('Attach', () => {
                this._elements.popup.close();
                this._actions.attach(session.id);
              }),
          !isCurrent &&
            button('New tab', () => this._actions.openInNewTab(session.id), {
              title: 'Open this shell in a new tab',
            }),
          button(this._confirming === session.id ? 'End it?' : 'End', () => this._end(session.id)),
        );
        return el(
          'li',
          {
            class: 'row',
            attrs: { 'data-session-id': session.id, ...(isCurrent ? { 'data-current': '' } : {}) },
          },
          el('code', { class: 'row-title', text: describeCommand(session.command) }),
          el('span', {
            class: 'row-meta',
            text: [
              `started ${describeAgo(session.startedAt, now)}`,
              `idle ${describeDuration(session.idleSeconds)}`,
              `${session.cols}×${session.rows}`,
              describeViewers(session.viewers),
            ].join(' · '),
          }),
          actions,
        );
      }),
    );
  }

  /** End asks once more, on the button itself; the second press ends the shell. */
  private _end(sessionId: string): void {
    if (this._confirming !== sessionId) {
      this._confirming = sessionId;
      this._show();
      return;
    }
    this._confirming = undefined;
    this._api.end(sessionId).then(
      () => {
        this._ended.add(sessionId);
        this._show();
      },
      (error: unknown) => {
        this._elements.message.textContent = `Cannot end it: ${(error as Error).message}`;
      },
    );
  }
}
