/**
 * The v1 binary protocol on the server side (subprotocol `xterm-js-shell.v1`).
 * @module
 */
import {
  ClientType,
  ProtocolError,
  decodeClientMessage,
  encodeError,
  encodeExit,
  encodeHeartbeat,
  encodeOutput,
  encodeServerHello,
  encodeSessionEvent,
  encodeSnapshot,
  type ClientMessage,
  type ScreenSnapshot,
  type SessionEvent,
  type ExitStatus,
  type ServerHello,
} from '../../protocol/v1.js';
import type { ErrorCode } from '../../protocol/errors.js';
import type { OutgoingFrame, Opening, Wire } from './wire.js';

const HEARTBEAT_FRAME = encodeHeartbeat();

function binary(data: Uint8Array): OutgoingFrame {
  return { data, binary: true };
}

/**
 * The frame of each output chunk, made once however many viewers send it: a session offers the
 * same chunk object to all of them (fan-out), and framing copies it.
 */
const outputFrames = new WeakMap<Buffer, OutgoingFrame>();

export class V1Wire implements Wire {
  readonly name = 'v1';
  readonly capabilities = { acknowledged: true, sessions: true };

  hasOpeningFrame(): boolean {
    return true;
  }

  parseOpening(data: Buffer, isBinary: boolean): Opening {
    // Checked first, so that the error names no byte: a client that sends its credential raw
    // must not find a piece of it in the reason.
    if (isBinary && data.length > 0 && data[0] !== ClientType.HELLO) {
      throw new ProtocolError('the first message must be a hello');
    }
    const message = this._decode(data, isBinary);
    if (message.type !== 'hello') {
      throw new ProtocolError('the first message must be a hello');
    }
    return message.hello;
  }

  parse(data: Buffer, isBinary: boolean): ClientMessage {
    const message = this._decode(data, isBinary);
    if (message.type === 'hello') {
      throw new ProtocolError('hello may only be sent once, first');
    }
    return message;
  }

  output(chunk: Buffer): OutgoingFrame {
    let frame = outputFrames.get(chunk);
    if (frame === undefined) {
      frame = binary(encodeOutput(chunk));
      outputFrames.set(chunk, frame);
    }
    return frame;
  }

  flushOutput(): undefined {
    return undefined;
  }

  hello(hello: ServerHello): OutgoingFrame {
    return binary(encodeServerHello(hello));
  }

  exit(status: ExitStatus): OutgoingFrame {
    return binary(encodeExit(status));
  }

  sessionEvent(event: SessionEvent): OutgoingFrame {
    return binary(encodeSessionEvent(event));
  }

  snapshot(snapshot: ScreenSnapshot): OutgoingFrame {
    return binary(encodeSnapshot(snapshot));
  }

  error(code: ErrorCode, message: string): OutgoingFrame {
    return binary(encodeError({ code, message }));
  }

  heartbeat(): OutgoingFrame {
    return binary(HEARTBEAT_FRAME);
  }

  private _decode(data: Buffer, isBinary: boolean): ClientMessage {
    if (!isBinary) {
      throw new ProtocolError('v1 takes binary frames only');
    }
    return decodeClientMessage(data);
  }
}
