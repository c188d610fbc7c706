/**
 * Where the page finds its credential: the URL fragment (`#token=...`), which browsers never
 * send to the server or write to a proxy's access log. The fragment may also name a live shell
 * to join (`#token=...&session=ID`) or carry a share link's secret instead (`#share=...`).
 * @module
 */

/** What the page's fragment asks for. */
export interface PageFragment {
  /** The server's credential (token or JWT). */
  readonly token?: string;
  /** A live shell to join as one more screen (32 hex digits). */
  readonly session?: string;
  /** A share link's secret: join that link's shell with its role, without the credential. */
  readonly share?: string;
}

const SESSION_ID = /^[0-9a-f]{32}$/;

export function parseFragment(hash: string): PageFragment {
  const params = new URLSearchParams(hash.startsWith('#') ? hash.slice(1) : hash);
  const value = (name: string): string | undefined => {
    const found = params.get(name);
    return found === null || found === '' ? undefined : found;
  };
  const session = value('session')?.toLowerCase();
  const token = value('token');
  const share = value('share');
  return {
    ...(token !== undefined ? { token } : {}),
    ...(session !== undefined && SESSION_ID.test(session) ? { session } : {}),
    ...(share !== undefined ? { share } : {}),
  };
}

export function credentialFromFragment(hash: string): string | undefined {
  return parseFragment(hash).token;
}

/** The WebSocket URL for a page URL: same place, ws(s) scheme, so any base path works. */
export function socketUrl(pageUrl: string): string {
  const url = new URL('.', pageUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  url.search = '';
  return url.href;
}

/**
 * A link for this page's directory with `fragment` (`#share=...`, `#token=...&session=...`),
 * or an API answer's relative `url` (`./#share=...`) made absolute: resolved against the page's
 * address without its own fragment (and without its query, which only carries settings).
 */
export function pageLink(pageUrl: string, relative: string): string {
  const base = new URL(pageUrl);
  base.hash = '';
  return new URL(relative, base).href;
}
