/**
 * The error catalog: every way a connection can fail, with a stable code, the WebSocket close
 * code that mirrors it and a readable reason. Shared by the server and the page; documented in
 * docs/errors.md, which a test holds to this table in both directions.
 * @module
 */

export interface ErrorInfo {
  /** The WebSocket close code sent with this error (4000-4999, or a standard code). */
  readonly closeCode: number;
  /** A short human-readable reason; also the close reason (at most 123 bytes of UTF-8). */
  readonly reason: string;
}

export const ERRORS = {
  XJS_ERR_AUTH_FAILED: { closeCode: 4001, reason: 'Authentication failed' },
  XJS_ERR_AUTH_TIMEOUT: { closeCode: 4002, reason: 'Authentication timed out' },
  XJS_ERR_PROTOCOL: { closeCode: 4003, reason: 'Protocol error' },
  XJS_ERR_MESSAGE_TOO_BIG: { closeCode: 1009, reason: 'Message too big' },
  XJS_ERR_SPAWN_FAILED: { closeCode: 4005, reason: 'Unable to start shell' },
  XJS_ERR_SERVER_FULL: { closeCode: 4006, reason: 'Too many connections' },
  XJS_ERR_SESSION_NOT_FOUND: { closeCode: 4007, reason: 'Session not found or expired' },
  XJS_ERR_SESSION_TAKEN_OVER: {
    closeCode: 4008,
    reason: 'Session taken over by another connection',
  },
  XJS_ERR_SESSION_FORBIDDEN: { closeCode: 4009, reason: 'Session belongs to another credential' },
  XJS_ERR_HEARTBEAT_TIMEOUT: { closeCode: 4010, reason: 'Peer stopped answering pings' },
  XJS_ERR_AUTH_THROTTLED: {
    closeCode: 4011,
    reason: 'Too many failed attempts from this address; try again later',
  },
  XJS_ERR_TOO_MANY_UNAUTHENTICATED: {
    closeCode: 4012,
    reason: 'Too many connections waiting to authenticate',
  },
  XJS_ERR_READ_ONLY: { closeCode: 4013, reason: 'This page may only watch the session' },
  XJS_ERR_SHARE_REVOKED: { closeCode: 4014, reason: 'The share link was revoked or expired' },
  XJS_ERR_SESSION_ENDED: { closeCode: 4015, reason: 'The session was ended' },
  XJS_ERR_ORIGIN_FORBIDDEN: {
    closeCode: 4016,
    reason: 'WebSocket from a page of another site refused',
  },
  XJS_ERR_INTERNAL: { closeCode: 4500, reason: 'Internal server error' },
  XJS_ERR_SHUTDOWN: { closeCode: 1001, reason: 'Server shutting down' },
} as const satisfies Record<string, ErrorInfo>;

export type ErrorCode = keyof typeof ERRORS;

/** Looks up the catalog entry for a close code received by a client. */
export function errorForCloseCode(closeCode: number): ErrorCode | undefined {
  for (const [code, info] of Object.entries(ERRORS)) {
    if (info.closeCode === closeCode) {
      return code as ErrorCode;
    }
  }
  return undefined;
}
