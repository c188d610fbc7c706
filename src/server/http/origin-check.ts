/**
 * Cross-site WebSocket hijacking defence: a browser always sends Origin with an upgrade, so an
 * upgrade whose Origin is neither this server's own host nor explicitly allowed is refused.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** Normalises an origin such as `https://Example.com:443` to `https://example.com`. */
export function normaliseOrigin(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return undefined;
    }
    return url.origin;
  } catch {
    return undefined;
  }
}

/** Compares with the origin's scheme applied to Host, so `host:443` equals `https://host`. */
function sameHost(origin: string, host: string): boolean {
  const url = new URL(origin);
  try {
    return new URL(`${url.protocol}//${host}`).host === url.host;
  } catch {
    return false;
  }
}

export type OriginVerdict = { allowed: true } | { allowed: false; origin: string };

/**
 * Allows requests without Origin (not a browser: curl, scripts, the tests' ws client), an Origin
 * whose host equals the request's Host (a proxy in front must pass Host through), and any origin
 * in `allowed` (normalised).
 */
export function checkOrigin(request: IncomingMessage, allowed: ReadonlySet<string>): OriginVerdict {
  const origin = request.headers.origin;
  if (origin === undefined) {
    return { allowed: true };
  }
  const normalised = normaliseOrigin(origin);
  if (normalised !== undefined) {
    if (allowed.has(normalised)) {
      return { allowed: true };
    }
    const host = request.headers.host;
    if (host !== undefined && sameHost(normalised, host)) {
      return { allowed: true };
    }
  }
  return { allowed: false, origin };
}

/**
 * DNS rebinding defence for a server without authentication: a hostile page can make its own
 * name resolve to 127.0.0.1, and then its Origin matches its Host, so the origin check passes.
 * Without a credential to stop it, such a server accepts only a Host that cannot be rebound:
 * an IP address, `localhost`, or the host of an allowed origin. (No Host at all is no browser.)
 */
export function isRebindingSafeHost(
  host: string | undefined,
  allowedOrigins: ReadonlySet<string>,
): boolean {
  if (host === undefined) {
    return true;
  }
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return false;
  }
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (isIP(bare) !== 0 || bare === 'localhost' || bare.endsWith('.localhost')) {
    return true;
  }
  for (const origin of allowedOrigins) {
    if (new URL(origin).hostname === bare) {
      return true;
    }
  }
  return false;
}
