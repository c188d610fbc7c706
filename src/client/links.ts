/**
 * Clickable links: URLs the shell prints (web-links addon, loaded after the first paint) and
 * OSC 8 hyperlinks. A click opens a new tab without `window.opener` (no reverse tabnabbing);
 * hovering shows the target as text in a small tip, so a link cannot disguise where it goes.
 * @module
 */
import type { Terminal } from '@xterm/xterm';

/** Opens `uri` in a new tab with no opener and no referrer; only http(s) is followed. */
export function openLink(uri: string): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    window.open(url.href, '_blank', 'noopener,noreferrer');
  }
}

export class LinkTip {
  constructor(private readonly _element: HTMLElement) {}

  show(event: MouseEvent, text: string): void {
    const tip = this._element;
    tip.textContent = text; // the shell chose this text: never HTML
    tip.hidden = false;
    const { width, height } = tip.getBoundingClientRect();
    tip.style.left = `${Math.max(0, Math.min(event.clientX + 12, window.innerWidth - width))}px`;
    tip.style.top = `${Math.max(0, Math.min(event.clientY + 16, window.innerHeight - height))}px`;
  }

  hide(): void {
    this._element.hidden = true;
    this._element.textContent = '';
  }
}

/** Turns on both kinds of links; the web-links addon arrives as its own chunk. */
export async function enableLinks(term: Terminal, tip: LinkTip): Promise<void> {
  const hover = (event: MouseEvent, text: string): void => tip.show(event, text);
  const leave = (): void => tip.hide();
  term.options.linkHandler = {
    activate: (event, text) => {
      event.preventDefault();
      openLink(text);
    },
    hover,
    leave,
    allowNonHttpProtocols: false,
  };
  const { WebLinksAddon } = await import('@xterm/addon-web-links');
  term.loadAddon(
    new WebLinksAddon(
      (event, uri) => {
        event.preventDefault();
        openLink(uri);
      },
      { hover, leave },
    ),
  );
}
