// Pins the public surface of src/server/index.ts; type-checked by `tsc -p tsconfig.spec.json`, never run.
import type { AddressInfo } from 'node:net';
import type { WebSocket } from 'ws';
import * as api from '../../src/server/index.js';
import type {
  AuthCallback,
  AuthIdentity,
  AuthResult,
  AuthThrottleOptions,
  ErrorCode,
  ErrorInfo,
  ExitStatus,
  FdTarget,
  FlowControlLimits,
  HandlerResult,
  JwtAuthOptions,
  ListenAddress,
  ListenTarget,
  LogLevel,
  Logger,
  ShellHandlers,
  ShellHandlersEvents,
  ShellHandlersOptions,
  ShellServer,
  ShellServerEvents,
  ShellServerOptions,
  SocketActivationEnv,
  TcpTarget,
  TerminateOutcome,
  UnixSocketTarget,
  WebSocketHandlerOptions,
} from '../../src/server/index.js';

/** True only when A and B are the same type (not merely assignable either way). */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** Compiles only when its type argument is `true`. */
declare function expectTrue<T extends true>(proof?: T): void;

// ---- the values the package exports, exactly: adding or dropping one is an API change ----

expectTrue<
  Equal<
    keyof typeof api,
    | 'WebSocketHandler'
    | 'SessionStore'
    | 'createShellHandlers'
    | 'createShellServer'
    | 'socketActivationTargets'
    | 'formatListenAddress'
    | 'DEFAULT_SOCKET_MODE'
    | 'MAX_IDLE_SECONDS'
    | 'createTokenAuth'
    | 'generateToken'
    | 'createJwtAuth'
    | 'createLogger'
    | 'LOG_LEVELS'
    | 'ERRORS'
    | 'SUBPROTOCOL_V1'
    | 'VERSION'
  >
>();

// ---- WebSocketHandler: the original handler's options, camelCased ----

declare const websocket: WebSocket;
declare const logger: Logger;

const handler = new api.WebSocketHandler(websocket, {
  authCallback: (message: string, socket: WebSocket, log: Logger): AuthResult =>
    message.length > 0 && socket.readyState === 1 && log.level !== 'silent',
  logger,
  logId: 'c1',
  logLevel: 'debug-min',
  userShellCommand: ['/bin/bash', '-l'],
  shutdownSignal: new AbortController().signal,
  shellLogoutWait: 1,
  shellTerminateWait: 3,
  authTimeout: 5,
  env: { TERM: 'xterm', UNWANTED: undefined },
  cwd: '/tmp',
  pingInterval: 30,
  maxMessageBytes: 1 << 20,
  flowControl: { highWaterBytes: 524288, lowWaterBytes: 131072, ackBytes: 65536 },
});
new api.WebSocketHandler(websocket);
const running: Promise<HandlerResult> = handler.run();
expectTrue<Equal<ReturnType<typeof handler.run>, Promise<HandlerResult>>>();

// @ts-expect-error seconds are numbers
new api.WebSocketHandler(websocket, { shellLogoutWait: '1' });
// @ts-expect-error the command is an array of strings
new api.WebSocketHandler(websocket, { userShellCommand: '/bin/bash' });
// @ts-expect-error the log level is one of LOG_LEVELS
new api.WebSocketHandler(websocket, { logLevel: 'verbose' });
// @ts-expect-error shutdown is an AbortSignal, not a callback
new api.WebSocketHandler(websocket, { shutdownSignal: () => undefined });

expectTrue<Equal<WebSocketHandlerOptions['shellLogoutWait'], number | undefined>>();
expectTrue<Equal<WebSocketHandlerOptions['userShellCommand'], readonly string[] | undefined>>();
expectTrue<Equal<WebSocketHandlerOptions['shutdownSignal'], AbortSignal | undefined>>();
expectTrue<Equal<WebSocketHandlerOptions['authCallback'], AuthCallback | undefined>>();
expectTrue<Equal<WebSocketHandlerOptions['flowControl'], FlowControlLimits | undefined>>();
expectTrue<Equal<keyof FlowControlLimits, 'highWaterBytes' | 'lowWaterBytes' | 'ackBytes'>>();

expectTrue<Equal<HandlerResult['reasons'], readonly string[]>>();
expectTrue<Equal<HandlerResult['protocol'], 'legacy' | 'v1'>>();
expectTrue<Equal<HandlerResult['authenticated'], boolean>>();
expectTrue<Equal<HandlerResult['shellPid'], number | undefined>>();
expectTrue<Equal<HandlerResult['exitStatus'], ExitStatus | undefined>>();
expectTrue<Equal<HandlerResult['termination'], TerminateOutcome | undefined>>();
expectTrue<Equal<HandlerResult['closeCode'], number | undefined>>();
expectTrue<Equal<TerminateOutcome, 'exited' | 'killed' | 'gave-up'>>();
expectTrue<Equal<ExitStatus, { readonly code: number | null; readonly signal: string | null }>>();

// ---- auth ----

expectTrue<Equal<AuthResult, boolean | AuthIdentity>>();
expectTrue<Equal<AuthIdentity, { readonly identity: string }>>();
expectTrue<Equal<Parameters<AuthCallback>, [string, WebSocket | undefined, Logger]>>();
expectTrue<Equal<ReturnType<AuthCallback>, AuthResult | Promise<AuthResult>>>();
expectTrue<Equal<typeof api.createTokenAuth, (token: string) => AuthCallback>>();
expectTrue<Equal<typeof api.generateToken, () => string>>();
expectTrue<Equal<ReturnType<typeof api.createJwtAuth>, AuthCallback>>();
const jwtOptions: JwtAuthOptions = { secret: 'x'.repeat(32), audience: 'xterm-js-shell' };
api.createJwtAuth(jwtOptions);
// @ts-expect-error a JWT audience is required
api.createJwtAuth({ secret: 'x'.repeat(32) });
const throttle: AuthThrottleOptions = { freeAttempts: 3, baseDelay: 0.5, maxDelay: 4 };

// ---- createShellServer: the ready server the CLI runs ----

const server: ShellServer = api.createShellServer({
  auth: 'token',
  token: 'a-token-of-sixteen-chars',
  allowedOrigins: ['https://console.example.com'],
  maxConnections: 10,
  authThrottle: throttle,
  shellLogoutWait: 1,
  userShellCommand: ['/bin/sh'],
});
api.createShellServer();
api.createShellServer({ auth: 'none' });
api.createShellServer({ auth: (message) => message === 'ok' });
// @ts-expect-error auth is 'token', 'none' or a callback
api.createShellServer({ auth: 'basic' });
// @ts-expect-error the server makes its own shutdown signal and per-connection ids
api.createShellServer({ shutdownSignal: new AbortController().signal });

server.on('connection-end', (result) => {
  const reasons: readonly string[] = result.reasons;
  return reasons;
});
expectTrue<
  Equal<Parameters<Parameters<typeof server.once<'connection-end'>>[1]>[0], HandlerResult>
>();
server.on('idle-timeout', () => undefined);
// @ts-expect-error the event names are checked
server.on('connection-ended', () => undefined);
// @ts-expect-error so are the listener's arguments
server.on('connection-end', (result: string) => result);
expectTrue<Equal<typeof server.token, string | undefined>>();
expectTrue<Equal<typeof server.connections, number>>();
expectTrue<Equal<ReturnType<typeof server.close>, Promise<void>>>();
const tcp: Promise<AddressInfo> = server.listen(0, '127.0.0.1');
const targets: Promise<ListenAddress[]> = server.listen([
  { kind: 'tcp', host: '127.0.0.1', port: 0 } satisfies TcpTarget,
  { kind: 'unix', path: '/run/xterm-js-shell.sock', mode: 0o660 } satisfies UnixSocketTarget,
  { kind: 'fd', fd: 3 } satisfies FdTarget,
]);
expectTrue<Equal<ListenTarget, TcpTarget | UnixSocketTarget | FdTarget>>();
expectTrue<Equal<ShellServerOptions['auth'], 'token' | 'none' | AuthCallback | undefined>>();

const activation: SocketActivationEnv = { LISTEN_FDS: '1', LISTEN_PID: '1' };
const fds: FdTarget[] | undefined = api.socketActivationTargets(activation, 1);
const where: string = api.formatListenAddress({ kind: 'unix', path: '/run/x.sock' });
const socketMode: number = api.DEFAULT_SOCKET_MODE;
const maxIdle: number = api.MAX_IDLE_SECONDS;

// ---- createShellHandlers: the shell mounted in an app of its own ----

declare const request: import('node:http').IncomingMessage;
declare const response: import('node:http').ServerResponse;
declare const upgradeSocket: import('node:stream').Duplex;
const handlers: ShellHandlers = api.createShellHandlers({
  basePath: '/shell/',
  auth: (message) => message === 'ok',
  allowedOrigins: ['https://console.example.com'],
  maxConnections: 10,
  metrics: true,
});
api.createShellHandlers();
handlers.handleRequest(request, response);
handlers.handleRequest(request, response, () => undefined);
handlers.handleUpgrade(request, upgradeSocket, Buffer.alloc(0));
handlers.handleConnection(websocket, request);
declare const hostServer: import('node:http').Server;
hostServer.on('request', handlers.handleRequest).on('upgrade', handlers.handleUpgrade);
handlers.on('connection-end', (result: HandlerResult) => result);
// @ts-expect-error idle-timeout belongs to the ready server, which counts down idleness
handlers.on('idle-timeout', () => undefined);
// @ts-expect-error a listening socket's option is the ready server's
api.createShellHandlers({ headersTimeout: 10 });
expectTrue<Equal<typeof handlers.basePath, string>>();
expectTrue<Equal<ReturnType<typeof handlers.close>, Promise<void>>>();
expectTrue<Equal<ShellHandlersOptions['basePath'], string | undefined>>();
expectTrue<Equal<keyof ShellServerEvents, keyof ShellHandlersEvents | 'idle-timeout'>>();

// ---- logging, errors, protocol, version ----

expectTrue<Equal<LogLevel, 'error' | 'warn' | 'info' | 'debug-min' | 'debug'>>();
expectTrue<
  Equal<typeof api.LOG_LEVELS, readonly ['error', 'warn', 'info', 'debug-min', 'debug']>
>();
const log: Logger = api.createLogger({ level: 'debug-min', destination: 2 });

expectTrue<Equal<ErrorCode, keyof typeof api.ERRORS>>();
expectTrue<Equal<typeof api.ERRORS.XJS_ERR_AUTH_FAILED.closeCode, 4001>>();
expectTrue<Equal<typeof api.ERRORS.XJS_ERR_SHUTDOWN.closeCode, 1001>>();
const info: ErrorInfo = api.ERRORS.XJS_ERR_PROTOCOL;
expectTrue<Equal<typeof api.SUBPROTOCOL_V1, 'xterm-js-shell.v1'>>();
const version: string = api.VERSION;

export { running, tcp, targets, fds, where, socketMode, maxIdle, log, info, version };

// ---- SessionStore: resume for library users, shared by the handlers of one server ----

const store = new api.SessionStore({ resumeWindow: 60, replayBufferBytes: 1 << 20 });
expectTrue<Equal<typeof store.detached, number>>();
// @ts-expect-error the window is in seconds, a number
new api.SessionStore({ resumeWindow: '60' });
declare const someSocket: import('ws').WebSocket;
void new api.WebSocketHandler(someSocket, { sessionStore: store, recordDir: '/tmp' });
