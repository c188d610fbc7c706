/**
 * The authentication contract: the original's `auth_callback(message, websocket, logger)`, which
 * may also name who authenticated (a JWT subject) so that logs and resume can use it.
 * @module
 */
import type { WebSocket } from 'ws';
import type { Logger } from '../logger.js';

/** A successful authentication that says who it was. */
export interface AuthIdentity {
  /** Who authenticated (a JWT subject, a user name); logged, and binds resumable sessions. */
  readonly identity: string;
}

/** `true` or an identity: let the client in; `false`: refuse it. */
export type AuthResult = boolean | AuthIdentity;

/**
 * Decides whether a connection may start a shell. `message` is the client's credential as it
 * sent it: the first text frame (legacy) or the hello's `credential` (v1). Throwing counts as a
 * refusal and is logged as an error.
 */
export type AuthCallback = (
  message: string,
  websocket: WebSocket,
  logger: Logger,
) => AuthResult | Promise<AuthResult>;
