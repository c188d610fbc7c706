/**
 * The original wire format on the server side: text frames, the resize escape, the credential
 * as the first frame, `Error: ...` text on failure.
 * @module
 */
import { legacyErrorText, parseLegacyResize } from '../../protocol/legacy.js';
import { ProtocolError, type ClientMessage } from '../../protocol/v1.js';
import { Utf8Stream } from './utf8-stream.js';
import type { OutgoingFrame, Opening, Wire } from './wire.js';

/** The longest frame that can be a resize: `ESC [ 8 ; 65535 ; 65535 t`. */
const MAX_RESIZE_FRAME = 16;

function text(data: Buffer | string): OutgoingFrame {
  return { data, binary: false };
}

export class LegacyWire implements Wire {
  readonly name = 'legacy';
  /** One shell per connection, as the original: nothing outlives or shares it. */
  readonly capabilities = { acknowledged: false, sessions: false };
  private readonly _utf8 = new Utf8Stream();

  hasOpeningFrame(authRequired: boolean): boolean {
    return authRequired;
  }

  parseOpening(data: Buffer, isBinary: boolean): Opening {
    if (isBinary) {
      throw new ProtocolError('the legacy format takes text frames only');
    }
    return { credential: data.toString('utf8') };
  }

  parse(data: Buffer, isBinary: boolean): ClientMessage {
    if (isBinary) {
      throw new ProtocolError('the legacy format takes text frames only');
    }
    // ws has checked that text frames are valid UTF-8, so the bytes go to the pty as they are.
    if (data.length <= MAX_RESIZE_FRAME && data[0] === 0x1b) {
      const size = parseLegacyResize(data.toString('latin1'));
      if (size !== null) {
        return { type: 'resize', cols: size.cols, rows: size.rows };
      }
    }
    return { type: 'input', data };
  }

  output(chunk: Buffer): OutgoingFrame | undefined {
    const complete = this._utf8.push(chunk);
    return complete.length === 0 ? undefined : text(complete);
  }

  flushOutput(): OutgoingFrame | undefined {
    const rest = this._utf8.flush();
    return rest === '' ? undefined : text(rest);
  }

  hello(): undefined {
    return undefined;
  }

  exit(): undefined {
    return undefined;
  }

  snapshot(): undefined {
    return undefined; // one shell per connection: nobody joins later
  }

  sessionEvent(): undefined {
    return undefined;
  }

  heartbeat(): undefined {
    return undefined; // the original format has no message for it
  }

  error(_code: string, message: string): OutgoingFrame {
    return text(legacyErrorText(message));
  }
}
