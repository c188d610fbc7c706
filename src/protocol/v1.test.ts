// The v1 wire format byte by byte: the docs' vectors, round trips, and every malformed frame.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ClientType,
  ProtocolError,
  ServerType,
  decodeClientMessage,
  decodeServerMessage,
  encodeAck,
  encodeClientHello,
  encodeError,
  encodeExit,
  encodeHeartbeat,
  encodeFrame,
  encodeInput,
  encodeOutput,
  encodeResize,
  encodeServerHello,
  encodeSnapshot,
  type ClientHello,
  type ClientMessage,
  type ServerHello,
  type ServerMessage,
} from './v1.js';

/** `"01 6c 73"` → bytes; the docs write frames this way. */
function fromHex(text: string): Uint8Array {
  return Uint8Array.from(text.trim().split(/\s+/), (pair) => Number.parseInt(pair, 16));
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join(' ');
}

function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Every byte value once, so that nothing is treated as text on the way. */
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, index) => index);

const SESSION_ID = '0123456789abcdef0123456789abcdef';

const SERVER_HELLO: ServerHello = {
  sessionId: SESSION_ID,
  serverVersion: '0.1.0',
  offset: 1234,
  resumed: true,
  lostBytes: 17,
  liveOffset: 5000,
  limits: {
    maxMessageBytes: 1048576,
    ackBytes: 65536,
    highWaterBytes: 524288,
    replayBufferBytes: 0,
    resumeWindowSeconds: 0,
    heartbeatSeconds: 30,
  },
};

/** Asserts that `action` throws a ProtocolError whose message matches `message`. */
function assertProtocolError(action: () => unknown, message: RegExp): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`);
    assert.equal(error.name, 'ProtocolError');
    assert.match(error.message, message);
    return true;
  });
}

function clientFrame(type: number, payload: Uint8Array | string): Uint8Array {
  return encodeFrame(type, typeof payload === 'string' ? bytesOf(payload) : payload);
}

/** A client message with its payload copied out, so deepEqual compares values, not views. */
function plainClient(message: ClientMessage): unknown {
  return message.type === 'input' ? { type: 'input', data: toHex(message.data) } : message;
}

function plainServer(message: ServerMessage): unknown {
  return message.type === 'output' ? { type: 'output', data: toHex(message.data) } : message;
}

describe('v1 client messages', () => {
  describe('match the byte examples of docs/protocol.md', () => {
    it('encodes HELLO {"cols":80,"rows":24}', () => {
      assert.equal(
        toHex(encodeClientHello({ cols: 80, rows: 24 })),
        '00 7b 22 63 6f 6c 73 22 3a 38 30 2c 22 72 6f 77 73 22 3a 32 34 7d',
      );
    });

    it('encodes INPUT "ls\\r"', () => {
      assert.equal(toHex(encodeInput(bytesOf('ls\r'))), '01 6c 73 0d');
    });

    it('encodes RESIZE cols 80, rows 24', () => {
      assert.equal(toHex(encodeResize(80, 24)), '02 00 50 00 18');
    });

    it('encodes ACK offset 65536', () => {
      assert.equal(toHex(encodeAck(65536)), '03 00 00 00 00 00 01 00 00');
    });

    it('decodes each example to the message it names', () => {
      assert.deepEqual(
        decodeClientMessage(
          fromHex('00 7b 22 63 6f 6c 73 22 3a 38 30 2c 22 72 6f 77 73 22 3a 32 34 7d'),
        ),
        { type: 'hello', hello: { cols: 80, rows: 24 } },
      );
      assert.deepEqual(plainClient(decodeClientMessage(fromHex('01 6c 73 0d'))), {
        type: 'input',
        data: '6c 73 0d',
      });
      assert.deepEqual(decodeClientMessage(fromHex('02 00 50 00 18')), {
        type: 'resize',
        cols: 80,
        rows: 24,
      });
      assert.deepEqual(decodeClientMessage(fromHex('03 00 00 00 00 00 01 00 00')), {
        type: 'ack',
        offset: 65536,
      });
    });
  });

  describe('round trip', () => {
    const hellos: Array<[string, ClientHello]> = [
      ['a bare hello', { cols: 1, rows: 1 }],
      ['the largest size', { cols: 65535, rows: 65535 }],
      ['a hello with a credential', { cols: 80, rows: 24, credential: 'sëcret "token" \u{1f511}' }],
      ['an empty credential', { cols: 80, rows: 24, credential: '' }],
      [
        'a hello with resume',
        {
          cols: 132,
          rows: 43,
          credential: 'x',
          resume: { sessionId: SESSION_ID, offset: Number.MAX_SAFE_INTEGER },
        },
      ],
    ];
    for (const [name, hello] of hellos) {
      it(`keeps ${name}`, () => {
        assert.deepEqual(decodeClientMessage(encodeClientHello(hello)), { type: 'hello', hello });
      });
    }

    it('keeps every byte value of INPUT', () => {
      const frame = encodeInput(ALL_BYTES);
      assert.equal(frame[0], ClientType.INPUT);
      assert.equal(frame.length, 257);
      assert.deepEqual(plainClient(decodeClientMessage(frame)), {
        type: 'input',
        data: toHex(ALL_BYTES),
      });
    });

    it('keeps an empty INPUT', () => {
      assert.deepEqual(plainClient(decodeClientMessage(encodeInput(new Uint8Array(0)))), {
        type: 'input',
        data: '',
      });
    });

    for (const [cols, rows] of [
      [1, 1],
      [80, 24],
      [2000, 1000],
      [65535, 65535],
      [256, 255],
    ] as const) {
      it(`keeps RESIZE ${cols} x ${rows}`, () => {
        assert.deepEqual(decodeClientMessage(encodeResize(cols, rows)), {
          type: 'resize',
          cols,
          rows,
        });
      });
    }

    for (const offset of [0, 1, 0xffff_ffff, 0x1_0000_0000, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER]) {
      it(`keeps ACK offset ${offset}`, () => {
        assert.deepEqual(decodeClientMessage(encodeAck(offset)), { type: 'ack', offset });
      });
    }

    it('writes ACK offsets as a big-endian u64', () => {
      assert.equal(toHex(encodeAck(Number.MAX_SAFE_INTEGER)), '03 00 1f ff ff ff ff ff ff');
      assert.equal(toHex(encodeAck(0x1_0000_0001)), '03 00 00 00 01 00 00 00 01');
    });
  });

  it('decodes frames that sit at an offset inside a larger buffer, as ws delivers them', () => {
    const pool = new Uint8Array(64).fill(0xee);
    pool.set(fromHex('02 00 50 00 18'), 7);
    pool.set(fromHex('03 00 00 00 00 00 01 00 00'), 20);
    assert.deepEqual(decodeClientMessage(pool.subarray(7, 12)), {
      type: 'resize',
      cols: 80,
      rows: 24,
    });
    assert.deepEqual(decodeClientMessage(pool.subarray(20, 29)), { type: 'ack', offset: 65536 });
  });

  describe('refuse malformed frames with a ProtocolError naming the problem', () => {
    it('an empty frame', () => {
      assertProtocolError(() => decodeClientMessage(new Uint8Array(0)), /empty frame/);
    });

    for (const type of [0x04, 0x7f, ServerType.HELLO, ServerType.OUTPUT, 0xff]) {
      const name = `0x${type.toString(16).padStart(2, '0')}`;
      it(`an unknown type ${name}`, () => {
        assertProtocolError(
          () => decodeClientMessage(fromHex(`${name.slice(2)} 00 00`)),
          new RegExp(`unknown client message type ${name}`),
        );
      });
    }

    for (const hex of ['02', '02 00 50 00', '02 00 50 00 18 00']) {
      const length = hex.split(' ').length;
      it(`a RESIZE of ${length} bytes`, () => {
        assertProtocolError(
          () => decodeClientMessage(fromHex(hex)),
          new RegExp(`resize must be 5 bytes, got ${length}`),
        );
      });
    }

    for (const hex of ['03', '03 00 00 00 00 00 01 00', '03 00 00 00 00 00 01 00 00 00']) {
      const length = hex.split(' ').length;
      it(`an ACK of ${length} bytes`, () => {
        assertProtocolError(
          () => decodeClientMessage(fromHex(hex)),
          new RegExp(`ack must be 9 bytes, got ${length}`),
        );
      });
    }

    it('an ACK offset of 2^53, beyond the largest safe integer', () => {
      assertProtocolError(
        () => decodeClientMessage(fromHex('03 00 20 00 00 00 00 00 00')),
        /offset is larger than 2\^53 - 1/,
      );
      assertProtocolError(
        () => decodeClientMessage(fromHex('03 ff ff ff ff ff ff ff ff')),
        /offset is larger than 2\^53 - 1/,
      );
    });

    it('a RESIZE with 0 columns or 0 rows', () => {
      assertProtocolError(() => decodeClientMessage(fromHex('02 00 00 00 18')), /cols must be/);
      assertProtocolError(() => decodeClientMessage(fromHex('02 00 50 00 00')), /rows must be/);
    });

    const notJson: Array<[string, Uint8Array]> = [
      ['an empty payload', new Uint8Array(0)],
      ['truncated JSON', bytesOf('{"cols":80,')],
      ['plain text', bytesOf('hello')],
      ['bytes that are not UTF-8', fromHex('7b ff fe 7d')],
    ];
    for (const [name, payload] of notJson) {
      it(`a HELLO with ${name}`, () => {
        assertProtocolError(
          () => decodeClientMessage(clientFrame(ClientType.HELLO, payload)),
          /hello is not UTF-8 JSON/,
        );
      });
    }

    for (const json of ['null', '[80,24]', '42', '"cols"', 'true']) {
      it(`a HELLO whose JSON is ${json}, not an object`, () => {
        assertProtocolError(
          () => decodeClientMessage(clientFrame(ClientType.HELLO, json)),
          /hello must be a JSON object/,
        );
      });
    }

    const badSizes: Array<[string, RegExp]> = [
      ['{"rows":24}', /cols must be an integer from 1 to 65535/],
      ['{"cols":0,"rows":24}', /cols must be an integer from 1 to 65535/],
      ['{"cols":-1,"rows":24}', /cols must be an integer from 1 to 65535/],
      ['{"cols":65536,"rows":24}', /cols must be an integer from 1 to 65535/],
      ['{"cols":80.5,"rows":24}', /cols must be an integer from 1 to 65535/],
      ['{"cols":"80","rows":24}', /cols must be an integer from 1 to 65535/],
      ['{"cols":null,"rows":24}', /cols must be an integer from 1 to 65535/],
      ['{"cols":80}', /rows must be an integer from 1 to 65535/],
      ['{"cols":80,"rows":0}', /rows must be an integer from 1 to 65535/],
      ['{"cols":80,"rows":65536}', /rows must be an integer from 1 to 65535/],
      ['{"cols":80,"rows":1e400}', /rows must be an integer from 1 to 65535/],
    ];
    for (const [json, message] of badSizes) {
      it(`a HELLO ${json}`, () => {
        assertProtocolError(
          () => decodeClientMessage(clientFrame(ClientType.HELLO, json)),
          message,
        );
      });
    }

    for (const credential of ['42', 'null', '{"token":"x"}', '["x"]']) {
      it(`a HELLO whose credential is ${credential}`, () => {
        assertProtocolError(
          () =>
            decodeClientMessage(
              clientFrame(ClientType.HELLO, `{"cols":80,"rows":24,"credential":${credential}}`),
            ),
          /hello\.credential must be a string/,
        );
      });
    }

    const badResumes: Array<[string, RegExp]> = [
      ['null', /hello\.resume must be an object/],
      ['"abc"', /hello\.resume must be an object/],
      [`{"offset":0}`, /hello\.resume\.sessionId must be 32 lowercase hex digits/],
      [`{"sessionId":42,"offset":0}`, /hello\.resume\.sessionId must be 32 lowercase hex digits/],
      [
        `{"sessionId":"${SESSION_ID.toUpperCase()}","offset":0}`,
        /hello\.resume\.sessionId must be 32 lowercase hex digits/,
      ],
      [
        `{"sessionId":"${SESSION_ID.slice(1)}","offset":0}`,
        /hello\.resume\.sessionId must be 32 lowercase hex digits/,
      ],
      [
        `{"sessionId":"${SESSION_ID}0","offset":0}`,
        /hello\.resume\.sessionId must be 32 lowercase hex digits/,
      ],
      [
        `{"sessionId":"${SESSION_ID.slice(0, 31)}g","offset":0}`,
        /hello\.resume\.sessionId must be 32 lowercase hex digits/,
      ],
      [
        `{"sessionId":"${SESSION_ID}"}`,
        /hello\.resume\.offset must be a non-negative safe integer/,
      ],
      [
        `{"sessionId":"${SESSION_ID}","offset":-1}`,
        /hello\.resume\.offset must be a non-negative safe integer/,
      ],
      [
        `{"sessionId":"${SESSION_ID}","offset":1.5}`,
        /hello\.resume\.offset must be a non-negative safe integer/,
      ],
      [
        `{"sessionId":"${SESSION_ID}","offset":"10"}`,
        /hello\.resume\.offset must be a non-negative safe integer/,
      ],
      [
        `{"sessionId":"${SESSION_ID}","offset":9007199254740992}`,
        /hello\.resume\.offset must be a non-negative safe integer/,
      ],
    ];
    for (const [resume, message] of badResumes) {
      it(`a HELLO with resume ${resume}`, () => {
        assertProtocolError(
          () =>
            decodeClientMessage(
              clientFrame(ClientType.HELLO, `{"cols":80,"rows":24,"resume":${resume}}`),
            ),
          message,
        );
      });
    }
  });

  describe('encoders refuse values the wire cannot carry', () => {
    for (const [cols, rows, message] of [
      [0, 24, /cols must be/],
      [65536, 24, /cols must be/],
      [80.5, 24, /cols must be/],
      [Number.NaN, 24, /cols must be/],
      [80, 0, /rows must be/],
      [80, 65536, /rows must be/],
    ] as const) {
      it(`RESIZE ${cols} x ${rows}`, () => {
        assertProtocolError(() => encodeResize(cols, rows), message);
      });
    }

    for (const offset of [-1, 1.5, Number.NaN, Infinity, 2 ** 53]) {
      it(`ACK offset ${offset}`, () => {
        assertProtocolError(() => encodeAck(offset), /offset must be a non-negative safe integer/);
      });
    }
  });
});

describe('v1 server messages', () => {
  describe('SNAPSHOT', () => {
    it('carries its offset, size and text, and decodes to them', () => {
      const frame = encodeSnapshot({
        offset: 2 ** 40 + 5,
        cols: 80,
        rows: 24,
        data: bytesOf('\x1b[?1049hMARK'),
      });
      assert.equal(toHex(frame.subarray(0, 13)), '86 00 00 01 00 00 00 00 05 00 50 00 18');
      const message = decodeServerMessage(frame);
      assert.equal(message.type, 'snapshot');
      if (message.type === 'snapshot') {
        assert.equal(message.snapshot.offset, 2 ** 40 + 5);
        assert.deepEqual([message.snapshot.cols, message.snapshot.rows], [80, 24]);
        assert.equal(new TextDecoder().decode(message.snapshot.data), '\x1b[?1049hMARK');
      }
    });

    it('refuses a frame too short for its header, or a size of 0', () => {
      assertProtocolError(
        () => decodeServerMessage(Uint8Array.of(0x86, 0, 0)),
        /snapshot must be at least 13 bytes/,
      );
      const zero = new Uint8Array(13);
      zero[0] = 0x86;
      assertProtocolError(() => decodeServerMessage(zero), /cols must be/);
    });
  });

  describe('match the byte examples of docs/protocol.md', () => {
    it('encodes OUTPUT "hi\\r\\n"', () => {
      assert.equal(toHex(encodeOutput(bytesOf('hi\r\n'))), '81 68 69 0d 0a');
    });

    it('encodes EXIT {"code":3,"signal":null}', () => {
      assert.equal(
        toHex(encodeExit({ code: 3, signal: null })),
        '82 7b 22 63 6f 64 65 22 3a 33 2c 22 73 69 67 6e 61 6c 22 3a 6e 75 6c 6c 7d',
      );
    });

    it('decodes each example to the message it names', () => {
      assert.deepEqual(plainServer(decodeServerMessage(fromHex('81 68 69 0d 0a'))), {
        type: 'output',
        data: '68 69 0d 0a',
      });
      assert.deepEqual(
        decodeServerMessage(
          fromHex('82 7b 22 63 6f 64 65 22 3a 33 2c 22 73 69 67 6e 61 6c 22 3a 6e 75 6c 6c 7d'),
        ),
        { type: 'exit', status: { code: 3, signal: null } },
      );
    });
  });

  describe('round trip', () => {
    it('keeps the HELLO with every field', () => {
      const frame = encodeServerHello(SERVER_HELLO);
      assert.equal(frame[0], ServerType.HELLO);
      assert.deepEqual(decodeServerMessage(frame), { type: 'hello', hello: SERVER_HELLO });
    });

    it('keeps every byte value of OUTPUT', () => {
      const frame = encodeOutput(ALL_BYTES);
      assert.equal(frame[0], ServerType.OUTPUT);
      assert.deepEqual(plainServer(decodeServerMessage(frame)), {
        type: 'output',
        data: toHex(ALL_BYTES),
      });
    });

    for (const status of [
      { code: 0, signal: null },
      { code: 255, signal: null },
      { code: null, signal: 'SIGKILL' },
    ]) {
      it(`keeps EXIT ${JSON.stringify(status)}`, () => {
        assert.deepEqual(decodeServerMessage(encodeExit(status)), { type: 'exit', status });
      });
    }

    it('keeps ERROR with its code and message', () => {
      const error = { code: 'XJS_ERR_PROTOCOL', message: 'Protocol error: resize must be 5 bytes' };
      const frame = encodeError(error);
      assert.equal(frame[0], ServerType.ERROR);
      assert.deepEqual(decodeServerMessage(frame), { type: 'error', error });
    });
  });

  describe('refuse malformed frames with a ProtocolError naming the problem', () => {
    it('an empty frame', () => {
      assertProtocolError(() => decodeServerMessage(new Uint8Array(0)), /empty frame/);
    });

    for (const type of [ClientType.HELLO, ClientType.INPUT, 0x87, 0xff]) {
      const name = `0x${type.toString(16).padStart(2, '0')}`;
      it(`an unknown type ${name}`, () => {
        assertProtocolError(
          () => decodeServerMessage(encodeFrame(type, bytesOf('{}'))),
          new RegExp(`unknown server message type ${name}`),
        );
      });
    }

    it('a HELLO that is not JSON, not an object, or lacks its fields', () => {
      assertProtocolError(
        () => decodeServerMessage(encodeFrame(ServerType.HELLO, bytesOf('{'))),
        /server hello is not UTF-8 JSON/,
      );
      assertProtocolError(
        () => decodeServerMessage(encodeFrame(ServerType.HELLO, bytesOf('[]'))),
        /server hello must be a JSON object/,
      );
      const { sessionId: _sessionId, ...withoutId } = SERVER_HELLO;
      assertProtocolError(
        () =>
          decodeServerMessage(encodeFrame(ServerType.HELLO, bytesOf(JSON.stringify(withoutId)))),
        /server hello needs sessionId and offset/,
      );
      const { limits: _limits, ...withoutLimits } = SERVER_HELLO;
      assertProtocolError(
        () =>
          decodeServerMessage(
            encodeFrame(ServerType.HELLO, bytesOf(JSON.stringify(withoutLimits))),
          ),
        /server hello needs limits/,
      );
    });

    it('an EXIT or ERROR whose payload is not a JSON object', () => {
      assertProtocolError(
        () => decodeServerMessage(encodeFrame(ServerType.EXIT, bytesOf('3'))),
        /exit must be a JSON object/,
      );
      assertProtocolError(
        () => decodeServerMessage(encodeFrame(ServerType.ERROR, fromHex('ff'))),
        /error is not UTF-8 JSON/,
      );
    });
  });
});

describe('HEARTBEAT', () => {
  it('is the single byte 0x84 and decodes as a heartbeat', () => {
    assert.deepEqual([...encodeHeartbeat()], [0x84]);
    assert.deepEqual(decodeServerMessage(Uint8Array.of(0x84)), { type: 'heartbeat' });
  });

  it('refuses a heartbeat with a payload', () => {
    assertProtocolError(
      () => decodeServerMessage(Uint8Array.of(0x84, 0)),
      /heartbeat must be 1 byte/,
    );
  });
});
