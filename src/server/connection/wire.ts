/**
 * What the handler needs from a wire format; `wire-legacy.ts` and `wire-v1.ts` implement it and
 * the handler picks one per connection from the negotiated subprotocol.
 * @module
 */
import type {
  ClientHello,
  ClientMessage,
  ExitStatus,
  ScreenSnapshot,
  ServerHello,
  SessionEvent,
} from '../../protocol/v1.js';
import type { ErrorCode } from '../../protocol/errors.js';

/** A frame ready for `ws.send`: bytes with their frame kind. */
export interface OutgoingFrame {
  readonly data: Buffer | Uint8Array | string;
  readonly binary: boolean;
}

/** What the client's opening frame carried. */
export type Opening = Partial<ClientHello>;

/** What a wire format can carry; the handler asks these, never the format's name. */
export interface WireCapabilities {
  /** The page acknowledges processed output (flow control beyond the socket's buffer). */
  readonly acknowledged: boolean;
  /** Sessions outlive the connection: resume, attach, several viewers, session events. */
  readonly sessions: boolean;
}

export interface Wire {
  readonly name: 'legacy' | 'v1';
  readonly capabilities: WireCapabilities;
  /** Whether the client opens with a frame of its own before any input. */
  hasOpeningFrame(authRequired: boolean): boolean;
  /** Reads the opening frame; throws ProtocolError when it is malformed. */
  parseOpening(data: Buffer, isBinary: boolean): Opening;
  /** Reads any later frame; throws ProtocolError when it is malformed. */
  parse(data: Buffer, isBinary: boolean): ClientMessage;
  /** Frames a chunk of shell output; undefined when there is nothing to send yet. */
  output(chunk: Buffer): OutgoingFrame | undefined;
  /** At the end of output: whatever the format still holds back. */
  flushOutput(): OutgoingFrame | undefined;
  hello(hello: ServerHello): OutgoingFrame | undefined;
  exit(status: ExitStatus): OutgoingFrame | undefined;
  /** A change in the session (size, skipped output, viewers); undefined when it has none. */
  sessionEvent(event: SessionEvent): OutgoingFrame | undefined;
  /** The screen for a page that joins (only to pages whose hello asked for snapshots). */
  snapshot(snapshot: ScreenSnapshot): OutgoingFrame | undefined;
  error(code: ErrorCode, message: string): OutgoingFrame;
  /** A message the client can see with each ping; undefined when the format has none. */
  heartbeat(): OutgoingFrame | undefined;
}
