/**
 * The authentication contract: the original's `auth_callback(message, websocket, logger)`, which
 * may also name who authenticated (a JWT subject) so that logs and resume can use it.
 * @module
 */
import type { WebSocket } from 'ws';
import type { ErrorCode } from '../../protocol/errors.js';
import type { Logger } from '../logger.js';

/** A successful authentication that says who it was. */
export interface AuthIdentity {
  /** Who authenticated (a JWT subject, a user name); logged, and binds resumable sessions. */
  readonly identity: string;
}

/** `true` or an identity: let the client in; `false`: refuse it. */
export type AuthResult = boolean | AuthIdentity;

interface AuthCallbackShape {
  /**
   * Written as a method so that TypeScript checks its parameters both ways: a callback typed
   * for a WebSocket only (as before `undefined` was possible) still fits.
   */
  check(
    message: string,
    websocket: WebSocket | undefined,
    logger: Logger,
  ): AuthResult | Promise<AuthResult>;
}

/**
 * Decides whether a connection may start a shell. `message` is the client's credential as it
 * sent it: the first text frame (legacy) or the hello's `credential` (v1). Throwing counts as a
 * refusal and is logged as an error. `websocket` is the connection's socket; the ready server
 * also checks the `Authorization: Bearer` credential of an HTTP request (`/metrics`) with the
 * same callback, and then passes `undefined`.
 */
export type AuthCallback = AuthCallbackShape['check'];

/**
 * Thrown by a wrapper around an auth callback (the throttle, the server's admission) to refuse
 * a connection with a catalog error of its own rather than "authentication failed".
 */
export class AuthRefusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AuthRefusal';
  }
}

export function isAccepted(result: unknown): result is AuthResult {
  return (
    result === true ||
    (typeof result === 'object' &&
      result !== null &&
      typeof (result as { identity?: unknown }).identity === 'string')
  );
}
