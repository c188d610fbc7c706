// Thousands of malformed things thrown at one running server while a well-behaved session runs
// `seq` alongside: every bad connection gets a clear answer and none hangs, the good session
// loses nothing, the server still serves, and no process or descriptor is left behind.
// Replay a run with HOSTILE_SEED=<the printed seed>.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { get } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ERRORS } from '../../src/protocol/errors.js';
import {
  SUBPROTOCOL_V1,
  ServerType,
  encodeAck,
  encodeClientHello,
  encodeInput,
  encodeResize,
} from '../../src/protocol/v1.js';
import { V1Client } from '../helpers/clients.js';
import {
  OPCODE,
  Random,
  RawConnection,
  closePayload,
  encodeFrame,
  rawClose,
  upgradeRequest,
  within,
  wsAttempt,
  type WsAttempt,
} from '../helpers/hostile.js';
import { descendants, openDescriptors } from '../helpers/processes.js';
import { startServer, TEST_TOKEN, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

const SEED = Number(process.env.HOSTILE_SEED ?? randomInt(2 ** 31));
const SHELL = ['/bin/bash', '--norc', '--noprofile'];
const MAX_MESSAGE = 64 * 1024;
/** Attempts in flight at once. */
const CONCURRENCY = 12;
/** No attempt may take longer than this: past it, it counts as a hang. */
const ATTEMPT_DEADLINE_MS = 20_000;
const SEQ_COUNT = 200_000;
/** Rounds of `seq` the good session runs while the attacks go on. */
const GOOD_ROUNDS = 3;

/**
 * How many attempts of each kind; each attempt sends one or more malformed things. Cheap kinds
 * (no shell) are the many; of the kinds that start a shell, `v1-odd-session` sends hundreds of
 * frames per shell, so a run tries more than 10,000 inputs (about 16,000) well within a minute.
 */
const PLAN = {
  'http-odd': 1000,
  'upgrade-bad': 320,
  'v1-before-auth': 600,
  'legacy-before-auth': 300,
  'raw-frame': 500,
  'invalid-utf8': 120,
  'huge-frame': 40,
  'tcp-reset': 300,
  'frames-during-auth': 30,
  'v1-after-auth': 60,
  'v1-odd-session': 40,
  'legacy-after-auth': 40,
  'resume-odd': 60,
  silent: 10,
} as const;
type Kind = keyof typeof PLAN;

const CATALOG = new Set<number>(Object.values(ERRORS).map((info) => info.closeCode));
/** What ws itself sends for frame-level violations. */
const FRAME_LEVEL = new Set([1002, 1007, 1009]);

interface Outcome {
  /** Malformed things sent (frames, requests, resets). */
  readonly inputs: number;
  /** Close codes this attempt may end with; undefined: it ends by our reset, no code. */
  readonly expected?: ReadonlySet<number>;
  /** The close code it got (undefined for HTTP answers and resets). */
  readonly code?: number;
  readonly reason?: string;
  /** HTTP status it got, for requests that never became a WebSocket. */
  readonly status?: number;
  readonly allowedStatus?: ReadonlySet<number>;
  /** The response's first line, for the report. */
  readonly statusLine?: string;
}

// ---- attempts by kind ----

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH', 'FOO', 'get'];
const ODD_METHODS = ['G ET', 'GET\u0000', '', 'CONNECT', '\u00ff'];
const PATHS = [
  '/',
  '/healthz',
  '/index.html',
  '/../package.json',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/assets/..%2f..%2fpackage.json',
  '/..\\..\\package.json',
  'http://evil.example/../package.json',
  '//evil.example/',
  '*',
  '/?a=%zz',
  '/%',
  '/%00',
];
const VERSIONS = [
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/0.9',
  'HTTP/2.0',
  'HTTP/1.2',
  'HTTPS/1.1',
];

function oddHeaders(r: Random): string[] {
  const pool: Array<() => string[]> = [
    () => ['Host: 127.0.0.1'],
    () => ['Host: a', 'Host: b'],
    () => ['Content-Length: -1'],
    () => ['Content-Length: 1', 'Content-Length: 2'],
    () => ['Content-Length: abc'],
    () => ['Content-Length: 99999999999999999999'],
    () => ['Transfer-Encoding: chunked', 'Content-Length: 3'],
    () => ['Transfer-Encoding: gzip, chunked, identity'],
    () => ['Expect: 100-continue'],
    () => ['no colon here'],
    () => ['Host : spaced'],
    () => ['X-Folded: a', ' folded continuation'],
    () => [`X-Long: ${'a'.repeat(20_000 + r.int(10_000))}`],
    () => ['X-Nul: a\u0000b'],
    () => ['X-Bytes: \u00ff\u00fe\u0080'],
    () => Array.from({ length: 150 + r.int(100) }, (_, index) => `X-${index}: ${index}`),
    () => ['Connection: keep-alive, Upgrade'],
    () => [
      'Upgrade: h2c',
      'Connection: Upgrade, HTTP2-Settings',
      'HTTP2-Settings: AAMAAABkAAQAAP__',
    ],
    () => [`Cookie: ${'x=y; '.repeat(200)}`],
    () => ['Accept-Encoding: gzip;q=1e9999, *'],
    () => ['If-None-Match: *'],
  ];
  return Array.from({ length: r.int(4) }, () => r.pick(pool)()).flat();
}

/** Builds one odd HTTP request; returns it and whether it is complete (has its final CRLF). */
function oddRequest(r: Random): { bytes: Buffer; complete: boolean } {
  const variant = r.int(20);
  if (variant === 0) {
    return { bytes: r.bytes(1 + r.int(300)), complete: false };
  }
  if (variant === 1) {
    return { bytes: Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), complete: true };
  }
  const method = r.int(8) === 0 ? r.pick(ODD_METHODS) : r.pick(METHODS);
  const path =
    r.int(6) === 0
      ? `/${r.printable(r.int(3) === 0 ? 9000 + r.int(9000) : 1 + r.int(60)).replace(/ /g, '%20')}`
      : r.pick(PATHS);
  const version = r.pick(VERSIONS);
  const headers = [...oddHeaders(r), 'Connection: close'];
  const body = r.int(4) === 0 ? r.printable(r.int(100)) : '';
  return {
    bytes: Buffer.from(
      `${method} ${path} ${version}\r\n${headers.join('\r\n')}\r\n\r\n${body}`,
      'latin1',
    ),
    complete: true,
  };
}

const HTTP_OK_STATUS = new Set([100, 200, 304, 400, 404, 405, 408, 413, 414, 431, 501, 505]);

async function httpOdd(port: number, r: Random): Promise<Outcome> {
  const connection = await RawConnection.open(port);
  try {
    const { bytes } = oddRequest(r);
    connection.write(bytes);
    // An incomplete request is answered by the header timeout (408) or as malformed (400).
    const head = await connection.responseHead(ATTEMPT_DEADLINE_MS - 2000);
    return {
      inputs: 1,
      status: head?.status ?? 0,
      statusLine: head?.statusLine ?? JSON.stringify(connection.received().toString('latin1')),
      allowedStatus: HTTP_OK_STATUS,
    };
  } finally {
    connection.destroy();
  }
}

const BAD_KEYS = ['', 'abc', '!!!!!!!!!!!!!!!!!!!!!!==', 'dGhlIHNhbXBsZSBub25jZQ', 'a'.repeat(200)];
const BAD_VERSIONS = ['8', '12', '14', 'abc', '13, 8', '-13', ''];

async function upgradeBad(port: number, r: Random): Promise<Outcome> {
  const connection = await RawConnection.open(port);
  try {
    const overrides: Record<string, string | undefined> = {};
    let requestLine = 'GET / HTTP/1.1';
    let expectUpgrade = false;
    switch (r.int(9)) {
      case 0:
        overrides['Sec-WebSocket-Key'] = r.int(4) === 0 ? undefined : r.pick(BAD_KEYS);
        break;
      case 1:
        overrides['Sec-WebSocket-Version'] = r.int(4) === 0 ? undefined : r.pick(BAD_VERSIONS);
        break;
      case 2:
        overrides.Upgrade = r.pick(['websocket2', 'h2c', '', 'WebSocket, foo']);
        break;
      case 3:
        requestLine = `${r.pick(['POST', 'PUT', 'DELETE'])} / HTTP/1.1`;
        break;
      case 4:
        requestLine = `GET ${r.pick(['/x', '/healthz', '/../', '//', '/index.html'])} HTTP/1.1`;
        break;
      case 5:
        overrides.Origin = r.pick(['https://evil.example', 'null', 'http://127.0.0.1:1']);
        break;
      case 6:
        requestLine = 'GET / HTTP/1.0';
        break;
      case 7:
        overrides['Sec-WebSocket-Protocol'] = r.pick([
          ', , ,',
          'xterm-js-shell.v1, xterm-js-shell.v1',
          'a b',
          `${'p,'.repeat(500)}p`,
          'xterm-js-shell.v2',
        ]);
        break;
      default:
        overrides['Sec-WebSocket-Extensions'] = r.pick([
          'permessage-deflate; client_max_window_bits',
          'permessage-deflate; server_max_window_bits=8; client_no_context_takeover',
          'x-webkit-deflate-frame',
          'permessage-deflate; ;;',
        ]);
        expectUpgrade = true;
    }
    connection.write(upgradeRequest(port, overrides, requestLine));
    const head = await connection.responseHead(ATTEMPT_DEADLINE_MS - 2000);
    const status = head?.status ?? 0;
    if (status === 101) {
      // Compression is off: an upgrade must never agree to an extension; and only our
      // subprotocol may be picked.
      const agreed = head?.headers['sec-websocket-extensions'];
      const protocol = head?.headers['sec-websocket-protocol'];
      if (agreed !== undefined || (protocol !== undefined && protocol !== SUBPROTOCOL_V1)) {
        return { inputs: 1, status: -1, allowedStatus: new Set() };
      }
      const skip = connection.received().indexOf('\r\n\r\n') + 4;
      connection.write(encodeFrame({ opcode: OPCODE.CLOSE, payload: closePayload(1000) }));
      const close = await rawClose(connection, skip, ATTEMPT_DEADLINE_MS - 2000);
      return { inputs: 1, code: close.code, expected: new Set([1000]) };
    }
    // An extension offer alone is no reason to refuse: those must upgrade. A request that is
    // no upgrade to node (HTTP/1.0, another Upgrade) is a plain GET and may get the page.
    const allowed = new Set(expectUpgrade ? [] : [200, 400, 403, 404, 405, 426]);
    return { inputs: 1, status, statusLine: head?.statusLine ?? '', allowedStatus: allowed };
  } finally {
    connection.destroy();
  }
}

/** Waits for the attempt's end, within the deadline, and records the code. */
async function ending(
  attempt: WsAttempt,
  inputs: number,
  expected: Iterable<number>,
): Promise<Outcome> {
  const outcome = await within(attempt.outcome, 'the server to close', ATTEMPT_DEADLINE_MS);
  return { inputs, code: outcome.code, reason: outcome.reason, expected: new Set(expected) };
}

function randomHelloBody(r: Random): string {
  const good = { cols: 80, rows: 24, credential: TEST_TOKEN };
  const variants: Array<() => string> = [
    () => JSON.stringify(good).slice(0, r.int(JSON.stringify(good).length)),
    () => JSON.stringify({ ...good, cols: r.pick([0, -1, 65536, 1.5, '80', null, 1e300]) }),
    () => JSON.stringify({ ...good, rows: r.pick([0, 70000, [], {}, true]) }),
    () => JSON.stringify({ ...good, credential: r.pick([42, null, [], { a: 1 }]) }),
    () => JSON.stringify({ cols: 80, rows: 24, credential: r.printable(1 + r.int(80)) }),
    () => JSON.stringify({ cols: 80, rows: 24 }),
    () => JSON.stringify([good]),
    () => JSON.stringify('hello'),
    () => '{"cols":80,"rows":24,"credential":"' + '\\u0000'.repeat(r.int(50)) + '"}',
    () => '{'.repeat(2000 + r.int(2000)),
    () => '{"__proto__":{"credential":"x"},"cols":80,"rows":24}',
    () => JSON.stringify({ ...good, resume: r.pick([null, 'x', { sessionId: 'zz', offset: 0 }]) }),
  ];
  return r.pick(variants)();
}

async function v1BeforeAuth(url: string, r: Random): Promise<Outcome> {
  const attempt = wsAttempt(url, [SUBPROTOCOL_V1]);
  await within(attempt.opened, 'the socket to open', ATTEMPT_DEADLINE_MS);
  const frames = 1 + r.int(4);
  for (let index = 0; index < frames; index++) {
    switch (r.int(7)) {
      case 0:
        attempt.socket.send(r.bytes(r.int(64)));
        break;
      case 1:
        attempt.socket.send(Buffer.concat([Buffer.from([0x00]), Buffer.from(randomHelloBody(r))]));
        break;
      case 2:
        attempt.socket.send(r.printable(1 + r.int(40))); // a text frame
        break;
      case 3:
        attempt.socket.send(Buffer.alloc(0));
        break;
      case 4:
        attempt.socket.send(encodeInput(Buffer.from(r.printable(1 + r.int(30)))));
        break;
      case 5:
        attempt.socket.send(Buffer.from([0x02, r.int(256)])); // a truncated resize first
        break;
      default:
        attempt.socket.send(Buffer.from([r.int(252) + 4, ...r.bytes(r.int(16))]));
    }
  }
  // The first frame decides: a refusal (4001) or a protocol error (4003); none is a valid
  // hello with the right token, so no shell starts.
  return ending(attempt, frames, [4001, 4003]);
}

async function legacyBeforeAuth(url: string, r: Random): Promise<Outcome> {
  const attempt = wsAttempt(url);
  await within(attempt.opened, 'the socket to open', ATTEMPT_DEADLINE_MS);
  switch (r.int(4)) {
    case 0:
      attempt.socket.send(r.bytes(1 + r.int(64))); // binary in legacy: 4003
      return ending(attempt, 1, [4003]);
    case 1:
      attempt.socket.send('');
      return ending(attempt, 1, [4001]);
    case 2:
      attempt.socket.send(`\u001b[8;${r.int(100000)};${r.int(100000)}t`); // a resize as credential
      return ending(attempt, 1, [4001]);
    default:
      attempt.socket.send(r.printable(1 + r.int(200)));
      return ending(attempt, 1, [4001]);
  }
}

/** Raw frames ws must refuse; each with the close code RFC 6455 calls for. */
function badFrame(r: Random): { frames: Buffer[]; expected: number[] } {
  const data = Buffer.from('x');
  const variants: Array<() => { frames: Buffer[]; expected: number[] }> = [
    () => ({
      frames: [encodeFrame({ opcode: OPCODE.TEXT, payload: data, mask: false })],
      expected: [1002],
    }),
    () => ({
      frames: [
        encodeFrame({ opcode: OPCODE.TEXT, payload: data, rsv: r.pick([0x40, 0x20, 0x10]) }),
      ],
      expected: [1002],
    }),
    () => ({
      frames: [encodeFrame({ opcode: r.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), payload: data })],
      expected: [1002],
    }),
    () => ({
      frames: [encodeFrame({ opcode: OPCODE.CONTINUATION, payload: data })],
      expected: [1002],
    }),
    () => ({
      frames: [encodeFrame({ opcode: OPCODE.PING, payload: r.bytes(126 + r.int(200)) })],
      expected: [1002],
    }),
    () => ({
      frames: [encodeFrame({ opcode: OPCODE.PING, payload: data, fin: false })],
      expected: [1002],
    }),
    () => ({
      frames: [
        encodeFrame({
          opcode: OPCODE.CLOSE,
          payload: closePayload(r.pick([0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])),
        }),
      ],
      expected: [1002],
    }),
    () => ({
      frames: [encodeFrame({ opcode: OPCODE.CLOSE, payload: Buffer.from([0x03]) })],
      expected: [1002],
    }),
    () => ({
      frames: [
        encodeFrame({
          opcode: OPCODE.CLOSE,
          payload: Buffer.concat([closePayload(1000), Buffer.from([0xc3, 0x28])]),
        }),
      ],
      expected: [1007],
    }),
    () => ({
      frames: [encodeFrame({ opcode: OPCODE.TEXT, payload: Buffer.from([0x61, 0xff, 0xfe]) })],
      expected: [1007],
    }),
    () => ({
      frames: [
        encodeFrame({ opcode: OPCODE.TEXT, payload: Buffer.from([0xe2, 0x82]), fin: false }),
        encodeFrame({ opcode: OPCODE.CONTINUATION, payload: Buffer.from([0x28]) }),
      ],
      expected: [1007],
    }),
    () => ({
      frames: [
        encodeFrame({ opcode: OPCODE.TEXT, payload: data, fin: false }),
        encodeFrame({ opcode: OPCODE.BINARY, payload: data }),
      ],
      expected: [1002],
    }),
    () => ({
      frames: [
        encodeFrame({ opcode: OPCODE.BINARY, declaredLength: 2n ** 63n + BigInt(r.int(1000)) }),
      ],
      expected: [1009, 1002],
    }),
    () => ({
      frames: [encodeFrame({ opcode: OPCODE.BINARY, declaredLength: 2n ** 53n + 7n })],
      expected: [1009],
    }),
    () => ({
      frames: [
        encodeFrame({ opcode: OPCODE.TEXT, declaredLength: MAX_MESSAGE + 1 + r.int(1 << 20) }),
      ],
      expected: [1009],
    }),
    () => ({
      // A message assembled from fragments that together exceed the limit. These frames come
      // before any credential, so the 64 KiB allowed before authentication runs out first.
      frames: Array.from({ length: 5 }, (_, index) =>
        encodeFrame({
          opcode: index === 0 ? OPCODE.BINARY : OPCODE.CONTINUATION,
          payload: Buffer.alloc(MAX_MESSAGE / 4),
          fin: index === 4,
        }),
      ),
      expected: [4003],
    }),
    () => ({
      frames: [encodeFrame({ opcode: OPCODE.CLOSE, payload: closePayload(1000, 'bye') })],
      expected: [1000],
    }),
  ];
  return r.pick(variants)();
}

async function rawFrame(port: number, r: Random): Promise<Outcome> {
  const v1 = r.int(2) === 0;
  const connection = await RawConnection.open(port);
  try {
    connection.write(upgradeRequest(port, v1 ? { 'Sec-WebSocket-Protocol': SUBPROTOCOL_V1 } : {}));
    const head = await connection.responseHead(ATTEMPT_DEADLINE_MS);
    if (head?.status !== 101) {
      return { inputs: 1, status: head?.status ?? 0, allowedStatus: new Set() };
    }
    const skip = connection.received().indexOf('\r\n\r\n') + 4;
    const { frames, expected } = badFrame(r);
    for (const frame of frames) {
      connection.write(frame);
    }
    const close = await rawClose(connection, skip, ATTEMPT_DEADLINE_MS);
    return {
      inputs: frames.length,
      code: close.code,
      reason: close.reason,
      expected: new Set(expected),
    };
  } finally {
    connection.destroy();
  }
}

/** Opens a session with the right token and waits for it to run (the v1 hello). */
async function signedIn(url: string, v1: boolean): Promise<WsAttempt> {
  const attempt = wsAttempt(url, v1 ? [SUBPROTOCOL_V1] : []);
  await within(attempt.opened, 'the socket to open', ATTEMPT_DEADLINE_MS);
  if (!v1) {
    attempt.socket.send(TEST_TOKEN);
    return attempt;
  }
  let hello = false;
  attempt.socket.on('message', (data: Buffer) => {
    hello ||= Buffer.isBuffer(data) && data[0] === ServerType.HELLO;
  });
  attempt.socket.send(encodeClientHello({ cols: 80, rows: 24, credential: TEST_TOKEN }));
  await waitFor(() => hello || attempt.socket.readyState !== attempt.socket.OPEN, {
    timeout: ATTEMPT_DEADLINE_MS,
    message: 'the server hello',
  });
  return attempt;
}

async function invalidUtf8(url: string, r: Random): Promise<Outcome> {
  const v1 = r.int(2) === 0;
  const after = r.int(4) === 0;
  const attempt = after ? await signedIn(url, v1) : wsAttempt(url, v1 ? [SUBPROTOCOL_V1] : []);
  await within(attempt.opened, 'the socket to open', ATTEMPT_DEADLINE_MS);
  const bad = r.pick([
    Buffer.from([0xff]),
    Buffer.from([0xc0, 0x80]), // overlong NUL
    Buffer.from([0xed, 0xa0, 0x80]), // a UTF-16 surrogate
    Buffer.from([0xf4, 0x90, 0x80, 0x80]), // beyond U+10FFFF
    Buffer.concat([Buffer.from(r.printable(r.int(50))), Buffer.from([0xe2, 0x82])]),
  ]);
  attempt.socket.send(bad, { binary: false });
  return ending(attempt, 1, [1007]);
}

async function hugeFrame(url: string, r: Random): Promise<Outcome> {
  const v1 = r.int(2) === 0;
  const after = r.int(4) === 0;
  const attempt = after ? await signedIn(url, v1) : wsAttempt(url, v1 ? [SUBPROTOCOL_V1] : []);
  await within(attempt.opened, 'the socket to open', ATTEMPT_DEADLINE_MS);
  const size = MAX_MESSAGE + 1 + r.int(3 * MAX_MESSAGE);
  attempt.socket.send(v1 ? Buffer.alloc(size, 0x01) : 'a'.repeat(size));
  return ending(attempt, 1, [1009]);
}

async function tcpReset(port: number, r: Random): Promise<Outcome> {
  const connection = await RawConnection.open(port);
  const v1 = r.int(2) === 0;
  const request = upgradeRequest(port, v1 ? { 'Sec-WebSocket-Protocol': SUBPROTOCOL_V1 } : {});
  switch (r.int(5)) {
    case 0: // nothing sent at all
      break;
    case 1: // in the middle of the request
      connection.write(request.slice(0, 1 + r.int(request.length - 2)));
      break;
    default: {
      connection.write(request);
      const head = await connection.responseHead(ATTEMPT_DEADLINE_MS);
      if (head?.status !== 101) {
        connection.destroy();
        return { inputs: 1, status: head?.status ?? 0, allowedStatus: new Set() };
      }
      const credential = v1
        ? encodeClientHello({ cols: 80, rows: 24, credential: TEST_TOKEN })
        : Buffer.from(TEST_TOKEN);
      const first = encodeFrame({
        opcode: v1 ? OPCODE.BINARY : OPCODE.TEXT,
        payload: Buffer.from(credential),
      });
      const next = encodeFrame({
        opcode: v1 ? OPCODE.BINARY : OPCODE.TEXT,
        payload: Buffer.from(v1 ? encodeInput(Buffer.from('abc')) : 'abc'),
      });
      if (r.int(2) === 0) {
        connection.write(first.subarray(0, 1 + r.int(first.length - 1))); // mid-credential
      } else {
        connection.write(first);
        if (v1 && r.int(2) === 0) {
          // Let the shell start: the reset then leaves a session to detach and expire.
          const skip = connection.received().indexOf('\r\n\r\n') + 4;
          await waitFor(() => connection.received().length > skip || connection.isClosed, {
            timeout: ATTEMPT_DEADLINE_MS,
            message: 'the server hello',
          });
        }
        connection.write(next.subarray(0, 1 + r.int(next.length - 1))); // mid-frame
      }
    }
  }
  connection.reset();
  await within(connection.closed, 'the socket to close', ATTEMPT_DEADLINE_MS);
  return { inputs: 1 };
}

/** A frame for a running v1 session, and whether the server must end the session for it. */
function v1RunningFrame(r: Random, received: number): { data: Uint8Array; fatal: boolean } {
  switch (r.int(12)) {
    case 0:
    case 1: {
      const size = (): number => r.pick([1, 2, 80, 2000, 2001, 65535, 1 + r.int(65535)]);
      return { data: encodeResize(size(), size()), fatal: false };
    }
    case 2:
      return { data: Buffer.from([0x02, 0, 0, 0, r.int(2)]), fatal: true }; // zero columns
    case 3:
      return { data: Buffer.from([0x02, ...r.bytes(r.pick([0, 1, 2, 3, 5, 8]))]), fatal: true };
    case 4:
      return { data: encodeAck(r.int(2) === 0 ? 0 : received), fatal: false };
    case 5:
      return { data: encodeAck(received + 2 ** 40 + r.int(1000)), fatal: true };
    case 6:
      return { data: Buffer.from([0x03, ...r.bytes(r.pick([0, 7, 9, 16]))]), fatal: true };
    case 7: {
      const ack = Buffer.alloc(9, 0xff); // an offset beyond 2^53
      ack[0] = 0x03;
      return { data: ack, fatal: true };
    }
    case 8:
    case 9:
      return { data: encodeInput(Buffer.from(r.printable(1 + r.int(200)))), fatal: false };
    case 10:
      return {
        data: encodeClientHello({ cols: 80, rows: 24, credential: TEST_TOKEN }),
        fatal: true,
      };
    default:
      return { data: Buffer.from([4 + r.int(124), ...r.bytes(r.int(20))]), fatal: true };
  }
}

async function v1AfterAuth(url: string, r: Random): Promise<Outcome> {
  const attempt = await signedIn(url, true);
  let received = 0;
  attempt.socket.on('message', (data: Buffer) => {
    if (data[0] === ServerType.OUTPUT) received += data.length - 1;
  });
  const count = 5 + r.int(40);
  let sent = 0;
  let fatal = false;
  while (sent < count && !fatal && attempt.socket.readyState === attempt.socket.OPEN) {
    const frame = v1RunningFrame(r, received);
    attempt.socket.send(frame.data);
    fatal = frame.fatal;
    sent += 1;
  }
  if (!fatal) {
    attempt.socket.close(1000);
  }
  return ending(attempt, sent, fatal ? [4003] : [1000]);
}

/**
 * A frame a running v1 session must take without ending it, however odd: sizes at and past the
 * server's limits (it clamps them), acknowledgements of nothing new or going back, empty input,
 * a few typed characters (never Enter).
 */
function v1OddFrame(r: Random, received: number): Uint8Array {
  switch (r.int(6)) {
    case 0:
    case 1:
    case 2: {
      const size = (): number => r.pick([1, 2, 3, 80, 2000, 2001, 65534, 65535, 1 + r.int(65535)]);
      return encodeResize(size(), size());
    }
    case 3:
      return encodeAck(r.pick([0, received, Math.floor(received / 2)]));
    case 4:
      return encodeInput(Buffer.alloc(0));
    default:
      return encodeInput(Buffer.from(r.printable(1 + r.int(8))));
  }
}

/** One shell, hundreds of odd frames it must survive, then a bad one (4003) or a clean close. */
async function v1OddSession(url: string, r: Random): Promise<Outcome> {
  const attempt = await signedIn(url, true);
  let received = 0;
  attempt.socket.on('message', (data: Buffer) => {
    if (data[0] === ServerType.OUTPUT) received += data.length - 1;
  });
  const count = 100 + r.int(200);
  let sent = 0;
  while (sent < count && attempt.socket.readyState === attempt.socket.OPEN) {
    attempt.socket.send(v1OddFrame(r, received));
    sent += 1;
  }
  let fatal = false;
  if (r.int(2) === 0) {
    let frame = v1RunningFrame(r, received);
    while (!frame.fatal) frame = v1RunningFrame(r, received);
    attempt.socket.send(frame.data);
    sent += 1;
    fatal = true;
  } else {
    attempt.socket.close(1000);
  }
  return ending(attempt, sent, fatal ? [4003] : [1000]);
}

const LEGACY_RESIZES = [
  '\u001b[8;0;0t',
  '\u001b[8;99999;99999t',
  '\u001b[8;;t',
  '\u001b[8;24;80',
  '\u001b[8;24;80tt',
  '\u001b[8;-1;80t',
  '\u001b[8;1e3;5t',
  `\u001b[8;${'9'.repeat(20)};1t`,
  '\u001b[8;24;80t\u001b[8;24;80t',
  '\u001b[8;24;80t',
];

async function legacyAfterAuth(url: string, r: Random): Promise<Outcome> {
  const attempt = await signedIn(url, false);
  const count = 3 + r.int(30);
  let sent = 0;
  let fatal = false;
  while (sent < count && !fatal && attempt.socket.readyState === attempt.socket.OPEN) {
    switch (r.int(4)) {
      case 0:
        attempt.socket.send(r.pick(LEGACY_RESIZES));
        break;
      case 1:
        attempt.socket.send(`\u001b[8;${1 + r.int(99999)};${1 + r.int(99999)}t`);
        break;
      case 2:
        attempt.socket.send(r.printable(1 + r.int(200)));
        break;
      default:
        if (r.int(4) === 0) {
          attempt.socket.send(r.bytes(1 + r.int(20))); // binary: 4003
          fatal = true;
        } else {
          attempt.socket.send(r.printable(1 + r.int(20)));
        }
    }
    sent += 1;
  }
  if (!fatal) {
    attempt.socket.close(1000);
  }
  return ending(attempt, sent, fatal ? [4003] : [1000]);
}

async function framesDuringAuth(url: string, r: Random): Promise<Outcome> {
  const attempt = wsAttempt(url, [SUBPROTOCOL_V1]);
  await within(attempt.opened, 'the socket to open', ATTEMPT_DEADLINE_MS);
  attempt.socket.send(encodeClientHello({ cols: 80, rows: 24, credential: TEST_TOKEN }));
  const flood = r.int(3) === 0;
  const count = flood ? 300 + r.int(200) : 1 + r.int(20);
  let fatal = false;
  for (let index = 0; index < count && !fatal; index++) {
    const frame = flood ? { data: encodeResize(80, 24), fatal: false } : v1RunningFrame(r, 0);
    attempt.socket.send(frame.data);
    fatal = frame.fatal;
  }
  if (!fatal) {
    attempt.socket.close(1000);
  }
  // A flood may exceed what is queued during authentication: 4003 then, too.
  return ending(attempt, count, fatal ? [4003] : flood ? [1000, 4003] : [1000]);
}

async function resumeOdd(url: string, r: Random): Promise<Outcome> {
  const attempt = wsAttempt(url, [SUBPROTOCOL_V1]);
  await within(attempt.opened, 'the socket to open', ATTEMPT_DEADLINE_MS);
  const valid = r.int(3) !== 0;
  const sessionId = valid
    ? r.bytes(16).toString('hex')
    : r.pick(['', 'z'.repeat(32), r.bytes(16).toString('hex').toUpperCase(), 'a'.repeat(31)]);
  const body = JSON.stringify({
    cols: 80,
    rows: 24,
    credential: TEST_TOKEN,
    resume: { sessionId, offset: r.pick([0, 1, 2 ** 53 - 1, r.int(1e6)]) },
  });
  attempt.socket.send(Buffer.concat([Buffer.from([0x00]), Buffer.from(body)]));
  return ending(attempt, 1, valid ? [4007] : [4003]);
}

async function silent(url: string, r: Random): Promise<Outcome> {
  const attempt = wsAttempt(url, r.int(2) === 0 ? [SUBPROTOCOL_V1] : []);
  await within(attempt.opened, 'the socket to open', ATTEMPT_DEADLINE_MS);
  // Timed out; or, while more than 32 others from this address wait to authenticate too, closed
  // early to make room (the oldest idle one goes first, see docs/security.md).
  return ending(attempt, 1, [4002, 4012]);
}

function attemptFor(kind: Kind, server: TestServer, r: Random): Promise<Outcome> {
  switch (kind) {
    case 'http-odd':
      return httpOdd(server.port, r);
    case 'upgrade-bad':
      return upgradeBad(server.port, r);
    case 'v1-before-auth':
      return v1BeforeAuth(server.wsUrl, r);
    case 'legacy-before-auth':
      return legacyBeforeAuth(server.wsUrl, r);
    case 'raw-frame':
      return rawFrame(server.port, r);
    case 'invalid-utf8':
      return invalidUtf8(server.wsUrl, r);
    case 'huge-frame':
      return hugeFrame(server.wsUrl, r);
    case 'tcp-reset':
      return tcpReset(server.port, r);
    case 'frames-during-auth':
      return framesDuringAuth(server.wsUrl, r);
    case 'v1-after-auth':
      return v1AfterAuth(server.wsUrl, r);
    case 'v1-odd-session':
      return v1OddSession(server.wsUrl, r);
    case 'legacy-after-auth':
      return legacyAfterAuth(server.wsUrl, r);
    case 'resume-odd':
      return resumeOdd(server.wsUrl, r);
    case 'silent':
      return silent(server.wsUrl, r);
  }
}

/** Every attempt, in a seeded order; attempt i always sends what Random(seed + i) decides. */
function schedule(seed: number): Kind[] {
  const kinds = (Object.entries(PLAN) as Array<[Kind, number]>).flatMap(([kind, count]) =>
    new Array<Kind>(count).fill(kind),
  );
  const r = new Random(seed);
  for (let index = kinds.length - 1; index > 0; index--) {
    const other = r.int(index + 1);
    [kinds[index], kinds[other]] = [kinds[other] as Kind, kinds[index] as Kind];
  }
  return kinds;
}

// ---- the well-behaved session ----

/**
 * A v1 session that runs `seq 1 200000` round after round and checks every number. It keeps
 * only the current round's output (from its own listener), so checking costs no copies of
 * everything received so far.
 */
class SeqSession {
  readonly client: V1Client;
  rounds = 0;
  checkedBytes = 0;
  private _round: Buffer[] = [];
  private _tail = '';
  private _end = '';
  private _ended = false;

  constructor(url: string) {
    this.client = new V1Client(url, { credential: TEST_TOKEN });
    this.client.socket.on('message', (data: Buffer) => {
      if (data[0] !== ServerType.OUTPUT) return;
      const chunk = Buffer.from(data.subarray(1));
      this._round.push(chunk);
      this._tail = (this._tail + chunk.toString('latin1')).slice(-64);
      this._ended ||= this._end !== '' && this._tail.includes(this._end);
    });
  }

  async round(): Promise<void> {
    const n = ++this.rounds;
    this._round = [];
    this._tail = '';
    this._ended = false;
    this._end = `R${n}-END\r\n`;
    // $((n+0)) prints n, so the markers in the output cannot be the echo of the typed line.
    this.client.sendInput(`echo R$((${n}+0))-BEGIN; seq 1 ${SEQ_COUNT}; echo R$((${n}+0))-END\r`);
    await waitFor(() => this._ended, {
      timeout: 120_000,
      interval: 50,
      message: `round ${n} of seq to finish`,
    });
    const text = Buffer.concat(this._round).toString('latin1');
    const begin = text.indexOf(`R${n}-BEGIN\r\n`);
    const stop = text.lastIndexOf(this._end);
    assert.ok(begin >= 0 && stop > begin, `round ${n}: markers not found`);
    const numbers = text.slice(begin + `R${n}-BEGIN\r\n`.length, stop).split('\r\n');
    assert.equal(numbers.pop(), '', `round ${n}: the last line is complete`);
    assert.equal(numbers.length, SEQ_COUNT, `round ${n}: ${numbers.length} numbers arrived`);
    numbers.forEach((line, index) => {
      if (line !== String(index + 1)) {
        assert.fail(`round ${n}: line ${index + 1} is ${JSON.stringify(line)}`);
      }
    });
    this.checkedBytes += text.length;
  }
}

// ---- the suite ----

function healthz(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(`http://127.0.0.1:${port}/healthz`, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('the server under hostile input', () => {
  let server: TestServer;
  let baselineProcesses: number;
  let baselineDescriptors: number;

  before(async () => {
    baselineProcesses = descendants().length;
    server = await startServer({
      userShellCommand: SHELL,
      maxMessageBytes: MAX_MESSAGE,
      authTimeout: 2,
      headersTimeout: 5,
      // Resumable sessions expire quickly, so their shells are gone before the leak check.
      resumeWindow: 1,
      // Keeps its place in the chain but stays fast: most attempts come from one address,
      // and a real delay would turn every attempt into an auth timeout.
      authThrottle: { freeAttempts: 3, baseDelay: 0.002, maxDelay: 0.01 },
    });
    // One session first, so what node opens lazily at the first pty is in the baseline.
    const warmup = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    await warmup.waitForHello();
    warmup.sendInput('exit\r');
    await within(warmup.closed, 'the warm-up session to end');
    await waitFor(
      () => descendants().length === baselineProcesses && server.server.connections === 0,
    );
    baselineDescriptors = openDescriptors().length;
  });
  after(() => server.close());

  it('answers every input, loses nothing of a good session, and leaks nothing', async (t) => {
    t.diagnostic(`seed ${SEED} (replay with HOSTILE_SEED=${SEED})`);
    console.log(`hostile-input: seed ${SEED} (replay with HOSTILE_SEED=${SEED})`);

    // A warning on stderr (a listener "leak", a deprecation) is something an operator sees too.
    const warnings: string[] = [];
    const processOnWarning = (warning: Error): void => {
      warnings.push(`${warning.name}: ${warning.message}`);
    };
    process.on('warning', processOnWarning);
    t.after(() => process.off('warning', processOnWarning));

    const good = new SeqSession(server.wsUrl);
    await good.client.waitForHello();

    const plan = schedule(SEED);
    const counts = new Map<Kind, { attempts: number; inputs: number; ms: number }>();
    const codes = new Map<string, number>();
    const problems: string[] = [];
    let next = 0;

    const worker = async (): Promise<void> => {
      while (next < plan.length) {
        const index = next++;
        const kind = plan[index] as Kind;
        const r = new Random(SEED + index + 1);
        const tally = counts.get(kind) ?? { attempts: 0, inputs: 0, ms: 0 };
        const started = Date.now();
        counts.set(kind, tally);
        tally.attempts += 1;
        try {
          const outcome = await within(
            attemptFor(kind, server, r),
            `${kind} #${index}`,
            ATTEMPT_DEADLINE_MS + 5000,
          );
          tally.inputs += outcome.inputs;
          const key =
            outcome.code !== undefined
              ? `close ${outcome.code}`
              : outcome.status !== undefined
                ? `http ${outcome.status}`
                : 'reset';
          codes.set(`${kind}: ${key}`, (codes.get(`${kind}: ${key}`) ?? 0) + 1);
          if (outcome.status !== undefined && !outcome.allowedStatus?.has(outcome.status)) {
            problems.push(
              `${kind} #${index}: HTTP status ${outcome.status}: ${outcome.statusLine}`,
            );
          }
          if (outcome.expected !== undefined) {
            const code = outcome.code;
            const known =
              code !== undefined && (CATALOG.has(code) || FRAME_LEVEL.has(code) || code === 1000);
            if (code === undefined || !known || !outcome.expected.has(code)) {
              problems.push(
                `${kind} #${index}: closed with ${code ?? 'no close frame'} ${JSON.stringify(outcome.reason ?? '')}, expected ${[...outcome.expected].join('/')}`,
              );
            } else if (code >= 4000 && outcome.reason === '') {
              problems.push(`${kind} #${index}: close ${code} without a reason`);
            }
          }
        } catch (error) {
          problems.push(`${kind} #${index}: ${(error as Error).message}`);
        }
        tally.ms += Date.now() - started;
      }
    };

    // The good session runs seq three times, at the start, a third and two thirds into the
    // attacks (by progress, not by the clock), so its output always crosses them.
    const goodRounds = (async () => {
      for (let round = 0; round < GOOD_ROUNDS; round++) {
        await waitFor(() => next >= (plan.length * round) / GOOD_ROUNDS, {
          timeout: 300_000,
          interval: 50,
          message: `the attacks to reach round ${round + 1}`,
        });
        await good.round();
      }
    })();
    await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
    await goodRounds;

    const inputs = [...counts.values()].reduce((sum, tally) => sum + tally.inputs, 0);
    const attempts = [...counts.values()].reduce((sum, tally) => sum + tally.attempts, 0);
    const errors = server.logs.filter((line) => line.level >= 50);
    const summary = [
      `hostile-input: seed ${SEED}: ${attempts} connections, ${inputs} inputs tried, crashes ${errors.length}, problems ${problems.length}`,
      ...[...counts].map(
        ([kind, tally]) =>
          `  ${kind}: ${tally.attempts} connections, ${tally.inputs} inputs, ${Math.round(tally.ms / tally.attempts)} ms each`,
      ),
      `  answers: ${[...codes]
        .sort()
        .map(([key, count]) => `${key} x${count}`)
        .join(', ')}`,
      `  good session: ${good.rounds} rounds of seq 1 ${SEQ_COUNT}, ${good.checkedBytes} bytes checked`,
    ];
    for (const line of summary) {
      t.diagnostic(line);
      console.log(line);
    }

    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problems (seed ${SEED})`);
    assert.deepEqual(
      errors.map((line) => `${line.msg} ${JSON.stringify(line)}`),
      [],
      'error-level log lines (crashes)',
    );
    assert.deepEqual(warnings, [], 'process warnings');
    assert.equal(good.client.closeInfo, undefined, 'the good session was closed');

    // The good session still answers, then ends normally.
    good.client.sendInput('echo still-$((6*7))\r');
    await good.client.waitForText('still-42');
    good.client.sendInput('exit\r');
    assert.deepEqual(await within(good.client.closed, 'the good session to end'), {
      code: 1000,
      reason: 'shell exit code 0',
    });

    // The server still serves: health, and a new shell.
    const health = await healthz(server.port);
    assert.equal(health.status, 200);
    assert.equal((JSON.parse(health.body) as { status: string }).status, 'ok');
    const fresh = new V1Client(server.wsUrl, { credential: TEST_TOKEN });
    await fresh.waitForHello();
    fresh.sendInput('echo fresh-$((2+3))\r');
    await fresh.waitForText('fresh-5');
    fresh.sendInput('exit\r');
    await within(fresh.closed, 'the fresh session to end');

    // Nothing left behind: shells (detached ones expire after the 1 s window) and descriptors.
    await waitFor(() => descendants().length === baselineProcesses, {
      timeout: 30_000,
      message: `descendants back to ${baselineProcesses}, now ${JSON.stringify(descendants().map((p) => `${p.pid} ${p.command} ${p.state}`))}`,
    });
    await waitFor(() => server.server.connections === 0 && server.server.detachedSessions === 0, {
      timeout: 30_000,
      message: 'no connection and no detached session left',
    });
    await waitFor(() => openDescriptors().length <= baselineDescriptors + 2, {
      timeout: 30_000,
      message: `descriptors back to ${baselineDescriptors} (+2), now ${openDescriptors().length}`,
    });
  });
});
