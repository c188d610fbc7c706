/**
 * The public surface of xterm-js-shell: the connection handler, the mountable handlers, the
 * ready server, their option and result types, the auth helpers and the error catalog. Everything else is internal.
 * @module
 */
export { WebSocketHandler, type HandlerResult } from './connection/websocket-handler.js';
export type { WebSocketHandlerOptions, FlowControlLimits } from './connection/handler-options.js';
export { SessionStore, type SessionStoreOptions } from './session/session-store.js';
export {
  createShellHandlers,
  type ShellHandlers,
  type ShellHandlersEvents,
  type ShellHandlersOptions,
  type NextHandler,
} from './http/shell-handlers.js';
export {
  createShellServer,
  type ShellServer,
  type ShellServerEvents,
  type ShellServerOptions,
} from './http/shell-server.js';
export {
  socketActivationTargets,
  formatListenAddress,
  DEFAULT_SOCKET_MODE,
  type ListenTarget,
  type ListenAddress,
  type TcpTarget,
  type UnixSocketTarget,
  type FdTarget,
  type SocketActivationEnv,
} from './http/listen.js';
export { MAX_IDLE_SECONDS } from './http/idle-timer.js';
export type { AuthCallback, AuthResult, AuthIdentity } from './auth/types.js';
export { createTokenAuth, generateToken } from './auth/token.js';
export { createJwtAuth, type JwtAuthOptions } from './auth/jwt.js';
export type { AuthThrottleOptions } from './auth/throttle.js';
export { createLogger, LOG_LEVELS, type Logger, type LogLevel } from './logger.js';
export { ERRORS, type ErrorCode, type ErrorInfo } from '../protocol/errors.js';
export { SUBPROTOCOL_V1, type ExitStatus } from '../protocol/v1.js';
export type { TerminateOutcome } from './process/terminate.js';
export { VERSION } from './version.js';
