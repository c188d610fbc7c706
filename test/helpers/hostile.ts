/**
 * Tools for talking to the server the way an attacker would: raw TCP for malformed HTTP and
 * WebSocket bytes, frames built by hand (masked or not, any opcode, any length), a seeded PRNG
 * so a failing run can be replayed, and a ws client that can set any header.
 * @module
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { waitFor } from './wait-for.js';

// ---- a seeded PRNG (mulberry32): the same seed gives the same run ----

export class Random {
  private _state: number;

  constructor(readonly seed: number) {
    this._state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this._state = (this._state + 0x6d2b79f5) >>> 0;
    let t = this._state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  bytes(length: number): Buffer {
    const buffer = Buffer.alloc(length);
    for (let index = 0; index < length; index++) {
      buffer[index] = this.int(256);
    }
    return buffer;
  }

  /**
   * Printable ASCII without newlines: what the fuzzer may type into a real bash. It never
   * presses Enter or a control key, so nothing it types is ever run.
   */
  printable(length: number): string {
    let text = '';
    for (let index = 0; index < length; index++) {
      text += String.fromCharCode(0x20 + this.int(0x5f));
    }
    return text;
  }
}

// ---- WebSocket frames by hand ----

export const OPCODE = { CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };

export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: Buffer;
  /** @default true */
  readonly fin?: boolean;
  /** RSV1..3 as bits 4..6 of the first byte (0x40, 0x20, 0x10). @default 0 */
  readonly rsv?: number;
  /** Clients must mask; false builds the illegal unmasked frame. @default true */
  readonly mask?: boolean;
  /** Announce this length instead of the payload's (lies, truncations). */
  readonly declaredLength?: number | bigint;
}

/** One client frame, masked unless told otherwise. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const mask = spec.mask ?? true;
  const length = spec.declaredLength ?? payload.length;
  const head: number[] = [((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv ?? 0) | spec.opcode];
  const maskBit = mask ? 0x80 : 0;
  let extended = Buffer.alloc(0);
  if (typeof length === 'bigint' || length > 0xffff) {
    head.push(maskBit | 127);
    extended = Buffer.alloc(8);
    extended.writeBigUInt64BE(BigInt(length));
  } else if (length > 125) {
    head.push(maskBit | 126);
    extended = Buffer.alloc(2);
    extended.writeUInt16BE(length);
  } else {
    head.push(maskBit | length);
  }
  if (!mask) {
    return Buffer.concat([Buffer.from(head), extended, payload]);
  }
  const key = randomBytes(4);
  const masked = Buffer.from(payload);
  for (let index = 0; index < masked.length; index++) {
    masked[index] = (masked[index] as number) ^ (key[index & 3] as number);
  }
  return Buffer.concat([Buffer.from(head), extended, key, masked]);
}

export function closePayload(code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code);
  payload.write(reason, 2);
  return payload;
}

export interface ServerFrame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly payload: Buffer;
}

/** Parses the (unmasked) frames a server sent; the incomplete tail is left out. */
export function parseServerFrames(data: Buffer): ServerFrame[] {
  const frames: ServerFrame[] = [];
  let at = 0;
  while (at + 2 <= data.length) {
    const first = data[at] as number;
    let length = (data[at + 1] as number) & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      if (offset + 2 > data.length) break;
      length = data.readUInt16BE(offset);
      offset += 2;
    } else if (length === 127) {
      if (offset + 8 > data.length) break;
      length = Number(data.readBigUInt64BE(offset));
      offset += 8;
    }
    if (offset + length > data.length) break;
    frames.push({
      fin: (first & 0x80) !== 0,
      opcode: first & 0x0f,
      payload: data.subarray(offset, offset + length),
    });
    at = offset + length;
  }
  return frames;
}

// ---- raw TCP ----

export interface ResponseHead {
  readonly status: number;
  readonly statusLine: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The bytes after the head (a body, or WebSocket frames after a 101). */
  readonly rest: Buffer;
}

/** A plain TCP connection that records everything it receives. */
export class RawConnection {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  private _chunks: Buffer[] = [];
  private _closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this._chunks.push(chunk));
    socket.on('error', () => {
      // a reset from the server is an answer too; 'close' follows
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this._closed = true;
        resolve();
      }),
    );
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this._closed;
  }

  received(): Buffer {
    if (this._chunks.length > 1) {
      this._chunks = [Buffer.concat(this._chunks)];
    }
    return this._chunks[0] ?? Buffer.alloc(0);
  }

  write(data: Buffer | string): void {
    if (!this.socket.destroyed) {
      this.socket.write(data);
    }
  }

  /** The response head, once complete; undefined when the socket closed without one. */
  async responseHead(timeout = 10_000): Promise<ResponseHead | undefined> {
    await waitFor(() => this.received().includes('\r\n\r\n') || this._closed, {
      timeout,
      interval: 5,
      message: 'an HTTP response head',
    });
    const data = this.received();
    const end = data.indexOf('\r\n\r\n');
    if (end < 0) {
      return undefined;
    }
    const lines = data.subarray(0, end).toString('latin1').split('\r\n');
    const statusLine = lines[0] ?? '';
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return {
      status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN),
      statusLine,
      headers,
      rest: data.subarray(end + 4),
    };
  }

  /** Waits until the peer has closed (or the deadline passes: then it throws). */
  async waitClosed(timeout = 10_000): Promise<void> {
    await waitFor(() => this._closed, { timeout, interval: 5, message: 'the socket to close' });
  }

  /** Sends a TCP RST instead of a FIN. */
  reset(): void {
    if (!this.socket.destroyed) {
      this.socket.resetAndDestroy();
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** An HTTP/1.1 WebSocket upgrade request, with any header overridden (undefined removes it). */
export function upgradeRequest(
  port: number,
  overrides: Readonly<Record<string, string | undefined>> = {},
  requestLine = 'GET / HTTP/1.1',
): string {
  const headers: Record<string, string | undefined> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...overrides,
  };
  const lines = Object.entries(headers)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}: ${value}`);
  return `${requestLine}\r\n${lines.join('\r\n')}\r\n\r\n`;
}

/** How a raw WebSocket connection ended, from the server's side. */
export interface RawClose {
  /** The code in the server's close frame; undefined when it closed without one. */
  readonly code: number | undefined;
  readonly reason: string;
  /** Every frame the server sent, the close included. */
  readonly frames: readonly ServerFrame[];
}

/**
 * Upgrades a raw connection (101 expected) and returns it with the bytes after the head. The
 * caller then writes frames by hand and reads the server's answer with `rawClose`.
 */
export async function rawUpgrade(
  port: number,
  overrides: Readonly<Record<string, string | undefined>> = {},
): Promise<{ connection: RawConnection; head: ResponseHead }> {
  const connection = await RawConnection.open(port);
  connection.write(upgradeRequest(port, overrides));
  const head = await connection.responseHead();
  if (head?.status !== 101) {
    connection.destroy();
    throw new Error(`expected 101 Switching Protocols, got ${head?.statusLine ?? 'nothing'}`);
  }
  return { connection, head };
}

/**
 * Waits for the server's close frame (answering it, as a client must) or the end of the socket,
 * within `timeout`; reads the frames after the first `skip` bytes (the response head).
 */
export async function rawClose(
  connection: RawConnection,
  skip: number,
  timeout = 10_000,
): Promise<RawClose> {
  const closeFrame = (): ServerFrame | undefined =>
    parseServerFrames(connection.received().subarray(skip)).find(
      (frame) => frame.opcode === OPCODE.CLOSE,
    );
  await waitFor(() => closeFrame() !== undefined || connection.isClosed, {
    timeout,
    interval: 5,
    message: 'a close frame from the server',
  });
  const frames = parseServerFrames(connection.received().subarray(skip));
  const close = closeFrame();
  if (close !== undefined && !connection.isClosed) {
    connection.write(encodeFrame({ opcode: OPCODE.CLOSE, payload: close.payload.subarray(0, 2) }));
    connection.socket.end();
  }
  return {
    code:
      close !== undefined && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : undefined,
    reason: close !== undefined ? close.payload.subarray(2).toString('utf8') : '',
    frames,
  };
}

// ---- a ws client that can send anything and set any header ----

export interface WsOutcome {
  readonly code: number;
  readonly reason: string;
  /** Every message received, as sent (text frames as strings). */
  readonly messages: ReadonlyArray<Buffer | string>;
}

export interface WsAttempt {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly outcome: Promise<WsOutcome>;
}

/** Opens a ws connection with the given subprotocols and headers and records how it ends. */
export function wsAttempt(
  url: string,
  protocols: string[] = [],
  headers: Readonly<Record<string, string>> = {},
): WsAttempt {
  const socket = new WebSocket(url, protocols, { headers: { ...headers } });
  socket.binaryType = 'nodebuffer';
  const messages: Array<Buffer | string> = [];
  socket.on('message', (data: Buffer, isBinary) => {
    messages.push(isBinary ? Buffer.from(data) : data.toString('utf8'));
  });
  socket.on('error', () => {
    // recorded through 'close'
  });
  let failure = '';
  socket.once('error', (error) => (failure = error.message));
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('close', () => reject(new Error(`closed before it opened: ${failure}`)));
  });
  opened.catch(() => undefined);
  const outcome = new Promise<WsOutcome>((resolve) => {
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString(), messages }));
  });
  return { socket, opened, outcome };
}

// ---- the command as a process ----

export interface CliRun {
  readonly pid: number;
  /** The port from the printed line, once it is printed. */
  port(): Promise<number>;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) when the process has ended. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then the exit code; SIGKILL if it has not ended within the deadline. */
  stop(): Promise<number | string>;
}

const CLI_SOURCE = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/**
 * Starts the command from source (through tsx, so it never runs a stale build) with `args` and
 * the test's environment plus `env`; a token a developer may have exported is dropped.
 */
export function runCli(args: readonly string[], env: Record<string, string> = {}): CliRun {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (env.XTERM_JS_SHELL_TOKEN === undefined) {
    delete childEnv.XTERM_JS_SHELL_TOKEN;
  }
  delete childEnv.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_SOURCE, ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  let ended = false;
  void exited.then(() => (ended = true));
  return {
    pid: child.pid ?? -1,
    port: async () => {
      const match = await waitFor(
        (): RegExpExecArray | boolean => /http:\/\/[^:]+:(\d+)\//.exec(stdout) ?? ended,
        {
          timeout: 60_000, // tsx compiles the command first: slow on a busy machine
          message: `the URL on stdout; stderr: ${stderr.slice(-500)}`,
        },
      );
      if (typeof match === 'boolean') {
        throw new Error(`the command exited before listening: ${stderr}`);
      }
      return Number(match[1]);
    },
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    stop: async () => {
      if (!ended) {
        child.kill('SIGTERM');
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** `promise`, or a rejection naming `what` once `ms` have passed: no await without a deadline. */
export async function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
