/**
 * Where a server listens: a TCP host and port, a UNIX socket file (created with its mode, a stale
 * file replaced, a live one refused), or the sockets systemd passed (LISTEN_FDS, taken as
 * parameters: only the CLI reads the environment).
 * @module
 */
import { fstatSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { chmod, lstat, mkdtemp, rename, rm } from 'node:fs/promises';
import { connect, type ListenOptions, type Server } from 'node:net';
import { dirname, join, resolve } from 'node:path';

/** A TCP address; port 0 picks any free port. */
export interface TcpTarget {
  readonly kind: 'tcp';
  readonly host: string;
  readonly port: number;
}

/** A UNIX socket file. */
export interface UnixSocketTarget {
  readonly kind: 'unix';
  /** The socket's path; relative paths are resolved against the working directory. */
  readonly path: string;
  /** The file's permission bits, in place before anyone can connect. @default 0o600 */
  readonly mode?: number;
}

/** A listening socket inherited as a file descriptor (systemd socket activation). */
export interface FdTarget {
  readonly kind: 'fd';
  /** The descriptor, 3 or above. */
  readonly fd: number;
  /** The name systemd gave it (LISTEN_FDNAMES, FileDescriptorName=). @default 'unknown' */
  readonly name?: string;
}

export type ListenTarget = TcpTarget | UnixSocketTarget | FdTarget;

/** Where a listener ended up; `fd` and `name` are set for inherited descriptors. */
export type ListenAddress =
  | {
      readonly kind: 'tcp';
      readonly address: string;
      readonly port: number;
      readonly family: string;
      readonly fd?: number;
      readonly name?: string;
    }
  | {
      readonly kind: 'unix';
      /** Undefined when an inherited socket's path cannot be found. */
      readonly path: string | undefined;
      readonly fd?: number;
      readonly name?: string;
    };

export interface Listener {
  readonly address: ListenAddress;
  /**
   * Stops accepting connections (established ones are left to their owner) and removes the
   * socket file this listener created, unless another server has replaced it since.
   */
  close(): void;
}

/** The activation variables of sd_listen_fds(3), as strings from the environment. */
export interface SocketActivationEnv {
  readonly LISTEN_FDS?: string | undefined;
  readonly LISTEN_PID?: string | undefined;
  readonly LISTEN_FDNAMES?: string | undefined;
}

/** systemd passes the first socket as descriptor 3 (SD_LISTEN_FDS_START). */
export const SD_LISTEN_FDS_START = 3;

export const DEFAULT_SOCKET_MODE = 0o600;

/** sun_path holds 108 bytes including the terminating NUL; Node truncates longer paths silently. */
const MAX_UNIX_PATH_BYTES = 107;

/** An error with an errno-like code, so callers can tell "in use" from other failures. */
function listenError(message: string, code: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(message);
  error.code = code;
  return error;
}

/**
 * The sockets systemd passed to process `pid`, or undefined when the variables are absent or
 * meant for another process (LISTEN_PID differs: they were inherited, not passed to us).
 * Throws naming the variable when they are for us but malformed.
 */
export function socketActivationTargets(
  env: SocketActivationEnv,
  pid: number,
): FdTarget[] | undefined {
  const { LISTEN_FDS: fds, LISTEN_PID: listenPid, LISTEN_FDNAMES: fdNames } = env;
  if (fds === undefined || listenPid === undefined) {
    return undefined;
  }
  if (!/^\d+$/.test(listenPid)) {
    throw new RangeError(`LISTEN_PID must be a process id, got '${listenPid}'`);
  }
  if (Number(listenPid) !== pid) {
    return undefined;
  }
  const count = Number(fds);
  if (!/^\d+$/.test(fds) || count < 1 || count > 1024) {
    throw new RangeError(`LISTEN_FDS must be a whole number from 1 to 1024, got '${fds}'`);
  }
  // Fewer names than descriptors leaves the rest unnamed; systemd calls those "unknown".
  const names = fdNames === undefined ? [] : fdNames.split(':');
  return Array.from({ length: count }, (_, index) => ({
    kind: 'fd' as const,
    fd: SD_LISTEN_FDS_START + index,
    name: names[index] || 'unknown',
  }));
}

/** Starts `server` listening on `target`; rejects naming the target when it cannot. */
export async function listenOn(server: Server, target: ListenTarget): Promise<Listener> {
  switch (target.kind) {
    case 'tcp':
      return listenTcp(server, target);
    case 'unix':
      return listenUnix(server, target);
    case 'fd':
      return listenFd(server, target);
    default:
      throw new TypeError(
        `listen target kind must be 'tcp', 'unix' or 'fd', got '${(target as { kind: string }).kind}'`,
      );
  }
}

/** A readable form for logs and messages: `127.0.0.1:8765`, `unix:/run/x.sock`, `fd 3 (web) …`. */
export function formatListenAddress(address: ListenAddress): string {
  const where =
    address.kind === 'tcp'
      ? `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
      : `unix:${address.path ?? '(unknown path)'}`;
  return address.fd === undefined
    ? where
    : `fd ${address.fd} (${address.name ?? 'unknown'}) ${where}`;
}

/**
 * Connections the kernel may hold before we accept them. Node's default (511) dropped SYNs in a
 * burst of 1,000 connections (each drop costs the client a 1 s retry); the kernel caps this at
 * net.core.somaxconn.
 */
const LISTEN_BACKLOG = 4096;

/** `{ fd }` is Node's handle form of listen(); the typings only know it as `any`. */
function serverListen(server: Server, options: ListenOptions | { fd: number }): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const serverOnError = (error: Error): void => reject(error);
    server.once('error', serverOnError);
    server.listen({ backlog: LISTEN_BACKLOG, ...options }, () => {
      server.off('error', serverOnError);
      resolvePromise();
    });
  });
}

async function listenTcp(server: Server, target: TcpTarget): Promise<Listener> {
  if (!Number.isInteger(target.port) || target.port < 0 || target.port > 65535) {
    throw new RangeError(`port must be a whole number from 0 to 65535, got ${target.port}`);
  }
  await serverListen(server, { host: target.host, port: target.port });
  return { address: tcpAddress(server), close: () => server.close() };
}

function tcpAddress(server: Server, extra: { fd?: number; name?: string } = {}): ListenAddress {
  const bound = server.address();
  if (bound === null || typeof bound === 'string') {
    throw new Error('expected a TCP address from the listening server');
  }
  return { kind: 'tcp', address: bound.address, port: bound.port, family: bound.family, ...extra };
}

/**
 * Binds in a private staging directory (mode 0700, so nobody can connect yet), sets the mode,
 * then renames the socket into place. chmod after binding in place would leave a window with
 * the umask's mode; changing the umask would touch the whole process.
 */
async function listenUnix(server: Server, target: UnixSocketTarget): Promise<Listener> {
  const path = resolve(target.path);
  const mode = target.mode ?? DEFAULT_SOCKET_MODE;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new RangeError(`socket mode must be a permission mode from 0 to 0o777, got ${mode}`);
  }
  checkPathLength(path, path);
  await refuseLiveSocket(path);
  let staging: string;
  try {
    staging = await mkdtemp(join(dirname(path), '.xjs-'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EACCES';
    throw listenError(`${path}: cannot create a socket in ${dirname(path)} (${code})`, code);
  }
  const stagedPath = join(staging, 's');
  try {
    checkPathLength(stagedPath, path);
    await serverListen(server, { path: stagedPath });
    try {
      await chmod(stagedPath, mode);
      // Atomically takes the place of a stale file, if any.
      await rename(stagedPath, path);
    } catch (error) {
      server.close();
      throw error;
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const { dev, ino } = lstatSync(path);
  return {
    address: { kind: 'unix', path },
    close: () => {
      server.close();
      removeIfSame(path, dev, ino);
    },
  };
}

function checkPathLength(path: string, culprit: string): void {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_UNIX_PATH_BYTES) {
    const what = path === culprit ? '' : ` (while staging it as ${path})`;
    throw listenError(
      `${culprit}: a UNIX socket path is limited to ${MAX_UNIX_PATH_BYTES} bytes, this one has ${bytes}${what}; choose a shorter path`,
      'ENAMETOOLONG',
    );
  }
}

/** A socket file nobody answers on is stale (a crashed run); one that answers is refused. */
async function refuseLiveSocket(path: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return;
    }
    throw error;
  }
  if (!stats.isSocket()) {
    throw listenError(`${path} exists and is not a socket; refusing to replace it`, 'EEXIST');
  }
  if (await answers(path)) {
    throw listenError(`${path}: another server is listening on this socket`, 'EADDRINUSE');
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolvePromise, reject) => {
    const probe = connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolvePromise(true);
    });
    probe.once('error', (error: NodeJS.ErrnoException) => {
      probe.destroy();
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') {
        resolvePromise(false);
      } else {
        // EACCES, or EAGAIN from a live server's full backlog: we cannot call it stale.
        reject(
          listenError(
            `${path}: cannot tell whether a server is listening on this socket (${error.code ?? error.message})`,
            error.code ?? 'EEXIST',
          ),
        );
      }
    });
  });
}

function removeIfSame(path: string, dev: number, ino: number): void {
  try {
    const now = lstatSync(path);
    if (now.dev === dev && now.ino === ino) {
      unlinkSync(path);
    }
  } catch {
    // Already gone (removed by hand, or by whoever replaced it).
  }
}

async function listenFd(server: Server, target: FdTarget): Promise<Listener> {
  const name = target.name ?? 'unknown';
  if (!Number.isSafeInteger(target.fd) || target.fd < SD_LISTEN_FDS_START) {
    throw new RangeError(`fd must be a descriptor number >= 3, got ${target.fd}`);
  }
  let isSocket;
  try {
    isSocket = fstatSync(target.fd).isSocket();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EBADF';
    throw listenError(`cannot listen on fd ${target.fd} (${name}): ${code}`, code);
  }
  if (!isSocket) {
    throw listenError(`cannot listen on fd ${target.fd} (${name}): it is not a socket`, 'ENOTSOCK');
  }
  try {
    await serverListen(server, { fd: target.fd });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint =
      code === 'EINVAL' ? ' (a connected socket? the .socket unit must use Accept=no)' : '';
    throw listenError(
      `cannot listen on fd ${target.fd} (${name}): ${code ?? (error as Error).message}${hint}`,
      code ?? 'EINVAL',
    );
  }
  const extra = { fd: target.fd, name };
  const bound = server.address();
  const address: ListenAddress =
    bound !== null && typeof bound === 'object'
      ? tcpAddress(server, extra)
      : {
          kind: 'unix',
          path: typeof bound === 'string' ? bound : unixSocketPath(target.fd),
          ...extra,
        };
  // The descriptor belongs to us now; systemd keeps its own copy and the file.
  return { address, close: () => server.close() };
}

/** The path of an inherited UNIX socket, found by its inode in /proc/net/unix (Linux). */
function unixSocketPath(fd: number): string | undefined {
  try {
    const inode = String(fstatSync(fd).ino);
    // Num RefCount Protocol Flags Type St Inode Path
    for (const line of readFileSync('/proc/net/unix', 'latin1').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[6] === inode && fields.length > 7) {
        return fields.slice(7).join(' ');
      }
    }
  } catch {
    // Not Linux, or no /proc: the path is only for the logs.
  }
  return undefined;
}
