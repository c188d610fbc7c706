/**
 * The Share panel, for the owner of the shell on screen: make a link (read-only or read-write,
 * for a while: an hour by default) and copy it; see who is watching (role, since when, through
 * which link) and cut a screen off; see the live links and revoke one, which cuts off at once
 * every screen that came through it.
 * @module
 */
import type { ViewerInfo } from '../protocol/v1.js';
import { pageLink } from './credential.js';
import { describeAgo, describeDuration, describeExpiry, describeRole } from './describe.js';
import { button, el, type Popup } from './dom.js';
import type { ApiShare, SessionApi } from './session-api.js';

export interface SharePanelElements {
  readonly popup: Popup;
  /** Holds radio inputs `role` (reader, writer) and a select `expiresIn` (seconds). */
  readonly form: HTMLFormElement;
  /** The made link's box (hidden until one is made). */
  readonly result: HTMLElement;
  readonly link: HTMLInputElement;
  readonly copy: HTMLButtonElement;
  /** What the link gives, until when: text. */
  readonly hint: HTMLElement;
  /** Errors and confirmations: text. */
  readonly message: HTMLElement;
  readonly viewers: HTMLElement;
  readonly links: HTMLElement;
}

export interface ShareContext {
  /** The shell on screen. */
  readonly sessionId: string | undefined;
  /** This page's viewer id. */
  readonly self: string | undefined;
  readonly viewers: readonly ViewerInfo[];
}

export class SharePanel {
  private _context: ShareContext = { sessionId: undefined, self: undefined, viewers: [] };
  private _shares: readonly ApiShare[] = [];
  private _made: ApiShare | undefined;

  /**
   * @param _pageUrl the page's address, against which the API's `./#share=…` is resolved
   * @param _copy copies text to the clipboard; false when the browser refused
   */
  constructor(
    private readonly _elements: SharePanelElements,
    private readonly _api: SessionApi,
    private readonly _pageUrl: () => string,
    private readonly _copy: (text: string) => Promise<boolean>,
  ) {
    const { form, copy, popup, link } = _elements;
    form.addEventListener('submit', (event) => {
      event.preventDefault(); // never a navigation
      void this._create();
    });
    copy.addEventListener('click', () => void this._copyLink());
    link.addEventListener('focus', () => link.select());
    popup.onToggle((open) => {
      if (open) {
        this._elements.message.textContent = '';
        this._showViewers();
        void this._loadShares();
        form.querySelector<HTMLInputElement>('input:checked')?.focus();
      }
    });
  }

  /** The shell or its screens changed (the viewers event). */
  update(context: ShareContext): void {
    const changedShell = context.sessionId !== this._context.sessionId;
    this._context = context;
    if (changedShell) {
      this._shares = [];
      this._made = undefined;
      this._elements.result.hidden = true;
      this._elements.link.value = '';
    }
    if (this._elements.popup.isOpen) {
      this._showViewers();
      void this._loadShares(); // a link may have gone with a screen (revoked, expired)
    }
  }

  private async _create(): Promise<void> {
    const { form, message } = this._elements;
    const sessionId = this._context.sessionId;
    if (sessionId === undefined) {
      message.textContent = 'No shell to share: the page is not connected.';
      return;
    }
    const data = new FormData(form);
    const role = data.get('role') === 'writer' ? 'writer' : 'reader';
    const expiresIn = Number(data.get('expiresIn') ?? 3600);
    message.textContent = 'Making the link…';
    try {
      const share = await this._api.share(sessionId, role, expiresIn);
      this._made = share;
      this._showLink(pageLink(this._pageUrl(), share.url), share, expiresIn);
      message.textContent = '';
      await this._loadShares();
    } catch (error) {
      message.textContent = `Cannot make a link: ${(error as Error).message}`;
    }
  }

  private _showLink(url: string, share: ApiShare, expiresIn: number): void {
    const { result, link, hint } = this._elements;
    link.value = url;
    const what = share.role === 'writer' ? 'watch and type into' : 'watch (read-only)';
    const until = new Date(share.expiresAt).toLocaleTimeString([], {
      hour: '2-digit',
      minute: '2-digit',
    });
    hint.textContent = `Anyone with this link can ${what} this shell for ${describeDuration(expiresIn)} (until ${until}), or until you revoke it below.`;
    result.hidden = false;
    link.focus();
    link.select();
    link.scrollLeft = 0; // the start of the address shows, not its end
  }

  private async _copyLink(): Promise<void> {
    const { link, message } = this._elements;
    if (link.value === '') return;
    const copied = await this._copy(link.value);
    message.textContent = copied
      ? 'Link copied.'
      : 'Copy was blocked: select the link and copy it.';
    if (!copied) {
      link.focus();
      link.select();
    }
  }

  private async _loadShares(): Promise<void> {
    const sessionId = this._context.sessionId;
    if (sessionId === undefined) {
      this._shares = [];
      this._showShares();
      return;
    }
    try {
      const session = await this._api.get(sessionId);
      if (sessionId === this._context.sessionId) {
        this._shares = session.shares;
        this._showShares();
      }
    } catch (error) {
      this._elements.message.textContent = `Cannot list the links: ${(error as Error).message}`;
    }
  }

  private _showViewers(): void {
    const { viewers: list } = this._elements;
    const { self, viewers, sessionId } = this._context;
    const now = Date.now();
    list.replaceChildren(
      ...viewers.map((viewer) => {
        const how =
          viewer.id === self
            ? 'this page'
            : viewer.shareId !== undefined
              ? `through link ${shortId(viewer.shareId)}`
              : 'with the access token';
        return el(
          'li',
          { class: 'row', attrs: { 'data-viewer-id': viewer.id, 'data-role': viewer.role } },
          el('span', { class: 'row-title', text: describeRole(viewer.role) }),
          el('span', {
            class: 'row-meta',
            text: `${how} · since ${describeAgo(viewer.since, now)}`,
          }),
          el(
            'div',
            { class: 'row-actions' },
            viewer.id !== self &&
              sessionId !== undefined &&
              button('Cut off', () => this._cutOff(sessionId, viewer.id), {
                title: 'Close this screen now (a link it came through stays valid: revoke it too)',
              }),
          ),
        );
      }),
    );
  }

  private _showShares(): void {
    const { links } = this._elements;
    const sessionId = this._context.sessionId;
    const now = Date.now();
    const live = this._shares.filter((share) => Date.parse(share.expiresAt) > now);
    links.replaceChildren(
      ...live.map((share) => {
        const screens = this._context.viewers.filter((viewer) => viewer.shareId === share.id);
        return el(
          'li',
          { class: 'row', attrs: { 'data-share-id': share.id, 'data-role': share.role } },
          el('span', {
            class: 'row-title',
            text: `${share.role === 'writer' ? 'Read-write' : 'Read-only'} link ${shortId(share.id)}${share.id === this._made?.id ? ' (the one above)' : ''}`,
          }),
          el('span', {
            class: 'row-meta',
            text: `${describeExpiry(share.expiresAt, now)} · ${screens.length} screen${screens.length === 1 ? '' : 's'} on it`,
          }),
          el(
            'div',
            { class: 'row-actions' },
            sessionId !== undefined &&
              button('Revoke', () => this._revoke(sessionId, share.id), {
                title: 'The link stops working and its screens are cut off now',
              }),
          ),
        );
      }),
    );
    if (live.length === 0) {
      links.append(el('li', { class: 'row-empty', text: 'No live link.' }));
    }
  }

  private _revoke(sessionId: string, shareId: string): void {
    this._api.revoke(sessionId, shareId).then(
      () => {
        if (this._made?.id === shareId) {
          this._made = undefined;
          this._elements.result.hidden = true;
          this._elements.link.value = '';
        }
        this._elements.message.textContent = `Link ${shortId(shareId)} revoked.`;
        void this._loadShares();
      },
      (error: unknown) => {
        this._elements.message.textContent = `Cannot revoke it: ${(error as Error).message}`;
      },
    );
  }

  private _cutOff(sessionId: string, viewerId: string): void {
    this._api.cutOff(sessionId, viewerId).then(
      () => {
        this._elements.message.textContent = 'Screen cut off.';
      },
      (error: unknown) => {
        this._elements.message.textContent = `Cannot cut it off: ${(error as Error).message}`;
      },
    );
  }
}

/** The first characters of an id, enough to tell links apart in a list. */
function shortId(id: string): string {
  return id.slice(0, 6);
}
