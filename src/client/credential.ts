/**
 * Where the page finds its credential: the URL fragment (`#token=...`), which browsers never
 * send to the server or write to a proxy's access log.
 * @module
 */

export function credentialFromFragment(hash: string): string | undefined {
  const params = new URLSearchParams(hash.startsWith('#') ? hash.slice(1) : hash);
  return params.get('token') ?? undefined;
}

/** The WebSocket URL for a page URL: same place, ws(s) scheme, so any base path works. */
export function socketUrl(pageUrl: string): string {
  const url = new URL('.', pageUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  url.search = '';
  return url.href;
}
