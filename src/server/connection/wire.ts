/**
 * What the handler needs from a wire format; `wire-legacy.ts` and `wire-v1.ts` implement it and
 * the handler picks one per connection from the negotiated subprotocol.
 * @module
 */
import type { ClientHello, ClientMessage, ExitStatus, ServerHello } from '../../protocol/v1.js';
import type { ErrorCode } from '../../protocol/errors.js';

/** A frame ready for `ws.send`: bytes with their frame kind. */
export interface OutgoingFrame {
  readonly data: Buffer | Uint8Array | string;
  readonly binary: boolean;
}

/** What the client's opening frame carried. */
export type Opening = Partial<ClientHello>;

export interface Wire {
  readonly name: 'legacy' | 'v1';
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
  error(code: ErrorCode, message: string): OutgoingFrame;
  /** A message the client can see with each ping; undefined when the format has none. */
  heartbeat(): OutgoingFrame | undefined;
}
