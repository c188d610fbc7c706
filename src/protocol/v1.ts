/**
 * The v1 wire protocol (WebSocket subprotocol `xterm-js-shell.v1`): binary frames whose first
 * byte is the message type. Pure encoders and decoders shared by the server and the page; the
 * byte tables live in docs/protocol.md and the tests check them.
 * @module
 */

export const SUBPROTOCOL_V1 = 'xterm-js-shell.v1';

/** Message types sent by the client (page) to the server. */
export const ClientType = {
  HELLO: 0x00,
  INPUT: 0x01,
  RESIZE: 0x02,
  ACK: 0x03,
} as const;

/** Message types sent by the server to the client. */
export const ServerType = {
  HELLO: 0x80,
  OUTPUT: 0x81,
  EXIT: 0x82,
  ERROR: 0x83,
  HEARTBEAT: 0x84,
  SESSION: 0x85,
  SNAPSHOT: 0x86,
} as const;

/**
 * The server clamps terminal sizes to these (the kernel's winsize fields would take 65535, but
 * full-screen programs allocate cols x rows cells, so a hostile size must stay cheap).
 */
export const MAX_COLS = 2000;
export const MAX_ROWS = 1000;

/** Session ids are 128 random bits, written as 32 lowercase hex digits. */
const SESSION_ID_PATTERN = /^[0-9a-f]{32}$/;
const TWO_POW_32 = 0x1_0000_0000;

export interface ResumeRequest {
  readonly sessionId: string;
  /** Offset of the first output byte the client has not processed yet. */
  readonly offset: number;
  /**
   * The viewer this page was (the `self` of its last viewers event): only that one is taken
   * over. Without it, every page of the same credential with the owner role is.
   */
  readonly viewerId?: string;
}

export interface ClientHello {
  readonly cols: number;
  readonly rows: number;
  /** The credential, handed to the server's auth callback as is. */
  readonly credential?: string;
  readonly resume?: ResumeRequest;
  /** Join this live session as one more viewer (its screen as far as the replay reaches). */
  readonly attach?: string;
  /** The page understands SESSION messages (size, skipped output, viewers). */
  readonly events?: boolean;
  /** A share link's secret, instead of `credential`: it joins that link's session. */
  readonly share?: string;
  /** The page can restore a SNAPSHOT of the screen (instead of a replay with lost bytes). */
  readonly snapshot?: boolean;
}

/** How a viewer may use a session: an owner or writer types; a reader only watches. */
export type ViewerRole = 'owner' | 'writer' | 'reader';

/** One page on a session, as the SESSION `viewers` event lists it. */
export interface ViewerInfo {
  readonly id: string;
  readonly role: ViewerRole;
  /** When it joined, in milliseconds since the epoch. */
  readonly since: number;
  /** The share link it came through, if any. */
  readonly shareId?: string;
}

/** What changed in the session, for pages that asked for events. */
export type SessionEvent =
  | { readonly kind: 'size'; readonly cols: number; readonly rows: number }
  | { readonly kind: 'skipped'; readonly from: number; readonly to: number }
  | { readonly kind: 'viewers'; readonly self: string; readonly viewers: readonly ViewerInfo[] };

export interface ServerLimits {
  /** Largest message the server accepts, in bytes (type byte included). */
  readonly maxMessageBytes: number;
  /** Acknowledge at least every this many processed output bytes. */
  readonly ackBytes: number;
  /** The server pauses the shell when this many output bytes are unacknowledged. */
  readonly highWaterBytes: number;
  /** Bytes of recent output kept for resume (0 when resume is off). */
  readonly replayBufferBytes: number;
  /** How long a detached shell waits for its client to resume, in seconds (0: no resume). */
  readonly resumeWindowSeconds: number;
  /**
   * Seconds between the server's HEARTBEAT messages (0: none). A page that hears nothing at
   * all for a few intervals may treat the connection as lost.
   */
  readonly heartbeatSeconds: number;
}

export interface ServerHello {
  readonly sessionId: string;
  readonly serverVersion: string;
  /** Offset of the next OUTPUT byte; output bytes are numbered from 0 since the shell started. */
  readonly offset: number;
  /** True when this connection continues an existing session. */
  readonly resumed: boolean;
  /** Output bytes between the requested and the sent offset that no longer exist (resume). */
  readonly lostBytes: number;
  /**
   * Offset where live output begins: the bytes before it are a replay of output the shell
   * produced earlier (resume). A page that replays into a fresh terminal should not answer the
   * terminal queries in them (they were answered long ago). Equals `offset` for a new shell.
   */
  readonly liveOffset: number;
  readonly limits: ServerLimits;
  /** What this page may do on the session (absent from servers before viewers existed). */
  readonly role?: ViewerRole;
  /** The session's terminal size, which the writer who typed or resized last drives. */
  readonly cols?: number;
  readonly rows?: number;
  /** A SNAPSHOT follows before any OUTPUT; `offset` is the snapshot's. */
  readonly snapshot?: boolean;
}

/** The screen at an output offset, as text a reset terminal of cols × rows draws. */
export interface ScreenSnapshot {
  /** The offset of the first OUTPUT byte after it. */
  readonly offset: number;
  readonly cols: number;
  readonly rows: number;
  /** UTF-8 VT text, holding no query a terminal would answer. */
  readonly data: Uint8Array;
}

export interface ExitStatus {
  /** Exit code, or null when the shell was killed by a signal. */
  readonly code: number | null;
  /** Name of the signal that killed the shell (`SIGKILL`), or null. */
  readonly signal: string | null;
}

export interface ErrorMessage {
  /** A stable code from the error catalog, such as `XJS_ERR_AUTH_FAILED`. */
  readonly code: string;
  readonly message: string;
}

export type ClientMessage =
  | { readonly type: 'hello'; readonly hello: ClientHello }
  | { readonly type: 'input'; readonly data: Uint8Array }
  | { readonly type: 'resize'; readonly cols: number; readonly rows: number }
  | { readonly type: 'ack'; readonly offset: number };

export type ServerMessage =
  | { readonly type: 'hello'; readonly hello: ServerHello }
  | { readonly type: 'output'; readonly data: Uint8Array }
  | { readonly type: 'exit'; readonly status: ExitStatus }
  | { readonly type: 'error'; readonly error: ErrorMessage }
  | { readonly type: 'heartbeat' }
  | { readonly type: 'session'; readonly event: SessionEvent }
  | { readonly type: 'snapshot'; readonly snapshot: ScreenSnapshot };

/** A frame that does not follow the protocol; `message` names what is wrong. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** One type byte followed by the payload. */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(1 + payload.length);
  frame[0] = type;
  frame.set(payload, 1);
  return frame;
}

function encodeJson(type: number, value: unknown): Uint8Array {
  return encodeFrame(type, encoder.encode(JSON.stringify(value)));
}

function writeUint64(view: DataView, at: number, value: number): void {
  view.setUint32(at, Math.floor(value / TWO_POW_32));
  view.setUint32(at + 4, value >>> 0);
}

function readUint64(view: DataView, at: number): number {
  const value = view.getUint32(at) * TWO_POW_32 + view.getUint32(at + 4);
  if (!Number.isSafeInteger(value)) {
    throw new ProtocolError('offset is larger than 2^53 - 1');
  }
  return value;
}

function isOffset(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function checkSize(cols: unknown, rows: unknown): void {
  if (!Number.isInteger(cols) || (cols as number) < 1 || (cols as number) > 0xffff) {
    throw new ProtocolError('cols must be an integer from 1 to 65535');
  }
  if (!Number.isInteger(rows) || (rows as number) < 1 || (rows as number) > 0xffff) {
    throw new ProtocolError('rows must be an integer from 1 to 65535');
  }
}

// ---- client to server ----

export function encodeClientHello(hello: ClientHello): Uint8Array {
  return encodeJson(ClientType.HELLO, hello);
}

export function encodeInput(data: Uint8Array): Uint8Array {
  return encodeFrame(ClientType.INPUT, data);
}

export function encodeResize(cols: number, rows: number): Uint8Array {
  checkSize(cols, rows);
  const frame = new Uint8Array(5);
  const view = new DataView(frame.buffer);
  frame[0] = ClientType.RESIZE;
  view.setUint16(1, cols);
  view.setUint16(3, rows);
  return frame;
}

export function encodeAck(offset: number): Uint8Array {
  if (!isOffset(offset)) {
    throw new ProtocolError('offset must be a non-negative safe integer');
  }
  const frame = new Uint8Array(9);
  frame[0] = ClientType.ACK;
  writeUint64(new DataView(frame.buffer), 1, offset);
  return frame;
}

function parseJson(payload: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(payload));
  } catch {
    throw new ProtocolError(`${what} is not UTF-8 JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError(`${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function parseClientHello(payload: Uint8Array): ClientHello {
  const fields = parseJson(payload, 'hello');
  checkSize(fields.cols, fields.rows);
  const hello: {
    cols: number;
    rows: number;
    credential?: string;
    resume?: ResumeRequest;
    attach?: string;
    events?: boolean;
    share?: string;
    snapshot?: boolean;
  } = {
    cols: fields.cols as number,
    rows: fields.rows as number,
  };
  if (fields.attach !== undefined) {
    if (typeof fields.attach !== 'string' || !SESSION_ID_PATTERN.test(fields.attach)) {
      throw new ProtocolError('hello.attach must be 32 lowercase hex digits');
    }
    hello.attach = fields.attach;
  }
  if (fields.share !== undefined) {
    if (typeof fields.share !== 'string' || fields.share.length > 256) {
      throw new ProtocolError('hello.share must be a string of at most 256 characters');
    }
    hello.share = fields.share;
  }
  if (fields.events !== undefined) {
    if (typeof fields.events !== 'boolean') {
      throw new ProtocolError('hello.events must be a boolean');
    }
    hello.events = fields.events;
  }
  if (fields.snapshot !== undefined) {
    if (typeof fields.snapshot !== 'boolean') {
      throw new ProtocolError('hello.snapshot must be a boolean');
    }
    hello.snapshot = fields.snapshot;
  }
  if (fields.credential !== undefined) {
    if (typeof fields.credential !== 'string') {
      throw new ProtocolError('hello.credential must be a string');
    }
    hello.credential = fields.credential;
  }
  if (fields.resume !== undefined) {
    const resume = fields.resume as Record<string, unknown> | null;
    if (typeof resume !== 'object' || resume === null) {
      throw new ProtocolError('hello.resume must be an object');
    }
    if (typeof resume.sessionId !== 'string' || !SESSION_ID_PATTERN.test(resume.sessionId)) {
      throw new ProtocolError('hello.resume.sessionId must be 32 lowercase hex digits');
    }
    if (!isOffset(resume.offset)) {
      throw new ProtocolError('hello.resume.offset must be a non-negative safe integer');
    }
    if (
      resume.viewerId !== undefined &&
      (typeof resume.viewerId !== 'string' || !/^[0-9a-f]{12}$/.test(resume.viewerId))
    ) {
      throw new ProtocolError('hello.resume.viewerId must be 12 lowercase hex digits');
    }
    hello.resume = {
      sessionId: resume.sessionId,
      offset: resume.offset,
      ...(resume.viewerId !== undefined ? { viewerId: resume.viewerId } : {}),
    };
  }
  if (hello.resume !== undefined && hello.attach !== undefined) {
    throw new ProtocolError('hello.resume and hello.attach exclude each other');
  }
  return hello;
}

/** Decodes one client frame; throws ProtocolError naming the problem. */
export function decodeClientMessage(frame: Uint8Array): ClientMessage {
  if (frame.length === 0) {
    throw new ProtocolError('empty frame');
  }
  const payload = frame.subarray(1);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  switch (frame[0]) {
    case ClientType.HELLO:
      return { type: 'hello', hello: parseClientHello(payload) };
    case ClientType.INPUT:
      return { type: 'input', data: payload };
    case ClientType.RESIZE: {
      if (frame.length !== 5) {
        throw new ProtocolError(`resize must be 5 bytes, got ${frame.length}`);
      }
      const cols = view.getUint16(1);
      const rows = view.getUint16(3);
      checkSize(cols, rows);
      return { type: 'resize', cols, rows };
    }
    case ClientType.ACK:
      if (frame.length !== 9) {
        throw new ProtocolError(`ack must be 9 bytes, got ${frame.length}`);
      }
      return { type: 'ack', offset: readUint64(view, 1) };
    default:
      throw new ProtocolError(`unknown client message type 0x${hex(frame[0] ?? 0)}`);
  }
}

// ---- server to client ----

export function encodeServerHello(hello: ServerHello): Uint8Array {
  return encodeJson(ServerType.HELLO, hello);
}

export function encodeOutput(data: Uint8Array): Uint8Array {
  return encodeFrame(ServerType.OUTPUT, data);
}

export function encodeSessionEvent(event: SessionEvent): Uint8Array {
  return encodeJson(ServerType.SESSION, event);
}

/** SNAPSHOT: u64 offset, u16 cols, u16 rows, then the UTF-8 text. */
export function encodeSnapshot(snapshot: ScreenSnapshot): Uint8Array {
  if (!isOffset(snapshot.offset)) {
    throw new ProtocolError('offset must be a non-negative safe integer');
  }
  checkSize(snapshot.cols, snapshot.rows);
  const frame = new Uint8Array(13 + snapshot.data.length);
  const view = new DataView(frame.buffer);
  frame[0] = ServerType.SNAPSHOT;
  writeUint64(view, 1, snapshot.offset);
  view.setUint16(9, snapshot.cols);
  view.setUint16(11, snapshot.rows);
  frame.set(snapshot.data, 13);
  return frame;
}

export function encodeExit(status: ExitStatus): Uint8Array {
  return encodeJson(ServerType.EXIT, status);
}

export function encodeError(error: ErrorMessage): Uint8Array {
  return encodeJson(ServerType.ERROR, error);
}

/** The server is alive: sent with each ping, since a page cannot see WebSocket pings. */
export function encodeHeartbeat(): Uint8Array {
  return Uint8Array.of(ServerType.HEARTBEAT);
}

function parseServerHello(payload: Uint8Array): ServerHello {
  const fields = parseJson(payload, 'server hello');
  if (typeof fields.sessionId !== 'string' || !isOffset(fields.offset)) {
    throw new ProtocolError('server hello needs sessionId and offset');
  }
  if (typeof fields.limits !== 'object' || fields.limits === null) {
    throw new ProtocolError('server hello needs limits');
  }
  return fields as unknown as ServerHello;
}

/** Decodes one server frame; throws ProtocolError naming the problem. */
export function decodeServerMessage(frame: Uint8Array): ServerMessage {
  if (frame.length === 0) {
    throw new ProtocolError('empty frame');
  }
  const payload = frame.subarray(1);
  switch (frame[0]) {
    case ServerType.HELLO:
      return { type: 'hello', hello: parseServerHello(payload) };
    case ServerType.OUTPUT:
      return { type: 'output', data: payload };
    case ServerType.EXIT: {
      const fields = parseJson(payload, 'exit');
      return {
        type: 'exit',
        status: {
          code: asNullable(fields.code, 'number'),
          signal: asNullable(fields.signal, 'string'),
        },
      };
    }
    case ServerType.ERROR: {
      const fields = parseJson(payload, 'error');
      return {
        type: 'error',
        error: { code: String(fields.code), message: String(fields.message) },
      };
    }
    case ServerType.HEARTBEAT:
      if (frame.length !== 1) {
        throw new ProtocolError(`heartbeat must be 1 byte, got ${frame.length}`);
      }
      return { type: 'heartbeat' };
    case ServerType.SESSION: {
      const fields = parseJson(payload, 'session event');
      if (fields.kind !== 'size' && fields.kind !== 'skipped' && fields.kind !== 'viewers') {
        throw new ProtocolError('session event needs a kind of size, skipped or viewers');
      }
      return { type: 'session', event: fields as unknown as SessionEvent };
    }
    case ServerType.SNAPSHOT: {
      if (frame.length < 13) {
        throw new ProtocolError(`snapshot must be at least 13 bytes, got ${frame.length}`);
      }
      const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
      const cols = view.getUint16(9);
      const rows = view.getUint16(11);
      checkSize(cols, rows);
      return {
        type: 'snapshot',
        snapshot: { offset: readUint64(view, 1), cols, rows, data: frame.subarray(13) },
      };
    }
    default:
      throw new ProtocolError(`unknown server message type 0x${hex(frame[0] ?? 0)}`);
  }
}

function asNullable<T extends 'number' | 'string'>(
  value: unknown,
  kind: T,
): (T extends 'number' ? number : string) | null {
  return typeof value === kind ? (value as T extends 'number' ? number : string) : null;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
