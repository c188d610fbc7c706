import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  decodeClientMessage,
  encodeOutput,
  encodeServerHello,
  encodeSessionEvent,
  type ClientMessage,
  type ServerHello,
  type SessionEvent,
} from '../protocol/v1.js';
import { ShellConnection } from './connection.js';

/** Enough of the browser's WebSocket for ShellConnection: it records what the page sends. */
class FakeSocket extends EventTarget {
  static readonly OPEN = 1;
  static last: FakeSocket | undefined;
  readyState = 0;
  binaryType = 'blob';
  readonly sent: ClientMessage[] = [];

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    super();
    FakeSocket.last = this;
  }

  open(): void {
    this.readyState = FakeSocket.OPEN;
    this.dispatchEvent(new Event('open'));
  }

  receive(frame: Uint8Array): void {
    const data = frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength);
    this.dispatchEvent(new MessageEvent('message', { data }));
  }

  send(frame: Uint8Array): void {
    this.sent.push(decodeClientMessage(frame));
  }

  close(): void {
    this.readyState = 3;
  }
}

const HELLO: ServerHello = {
  sessionId: 'a'.repeat(32),
  serverVersion: 'test',
  offset: 1000,
  resumed: true,
  lostBytes: 0,
  liveOffset: 1000,
  limits: {
    maxMessageBytes: 1 << 20,
    ackBytes: 100,
    highWaterBytes: 1000,
    replayBufferBytes: 4096,
    resumeWindowSeconds: 60,
    heartbeatSeconds: 0,
  },
  role: 'reader',
  cols: 80,
  rows: 24,
};

describe('ShellConnection', () => {
  const saved = (globalThis as { WebSocket?: unknown }).WebSocket;
  beforeEach(() => {
    (globalThis as { WebSocket?: unknown }).WebSocket = FakeSocket;
  });
  afterEach(() => {
    (globalThis as { WebSocket?: unknown }).WebSocket = saved;
  });

  function connect(options: { attach?: string; share?: string } = {}): {
    connection: ShellConnection;
    socket: FakeSocket;
    events: SessionEvent[];
    written: Array<{ length: number; processed: () => void }>;
  } {
    const events: SessionEvent[] = [];
    const written: Array<{ length: number; processed: () => void }> = [];
    const connection = new ShellConnection(
      { url: 'ws://x/', credential: undefined, cols: 80, rows: 24, ...options },
      {
        opened: () => undefined,
        output: (data, processed) => written.push({ length: data.length, processed }),
        exited: () => undefined,
        event: (event) => events.push(event),
        closed: () => undefined,
      },
    );
    const socket = FakeSocket.last as FakeSocket;
    socket.open();
    return { connection, socket, events, written };
  }

  it('asks for events and snapshots, and joins with attach or a share link', () => {
    const { socket } = connect({ share: 'xjs-share-secret' });
    assert.deepEqual(socket.sent[0], {
      type: 'hello',
      hello: { cols: 80, rows: 24, share: 'xjs-share-secret', events: true, snapshot: true },
    });
    const attached = connect({ attach: 'b'.repeat(32) }).socket;
    assert.deepEqual(attached.sent[0], {
      type: 'hello',
      hello: { cols: 80, rows: 24, attach: 'b'.repeat(32), events: true, snapshot: true },
    });
  });

  it('follows skipped output: the next byte has offset `to`, and the ACKs say so', () => {
    const { connection, socket, events, written } = connect();
    socket.receive(encodeServerHello(HELLO));
    socket.receive(encodeOutput(new Uint8Array(60)));
    socket.receive(encodeSessionEvent({ kind: 'skipped', from: 1060, to: 5000 }));
    socket.receive(encodeOutput(new Uint8Array(120)));
    assert.equal(connection.receivedOffset, 5120, 'where a resume would continue');
    assert.deepEqual(events, [{ kind: 'skipped', from: 1060, to: 5000 }]);
    // The terminal processes in order: the chunk before the gap, the gap, the chunk after it.
    assert.deepEqual(
      written.map((write) => write.length),
      [60, 0, 120],
    );
    written[0]?.processed();
    assert.equal(connection.processedOffset, 1060);
    written[1]?.processed();
    assert.equal(connection.processedOffset, 5000);
    written[2]?.processed();
    assert.equal(connection.processedOffset, 5120);
    const acks = socket.sent.filter((message) => message.type === 'ack');
    assert.deepEqual(acks, [
      { type: 'ack', offset: 5000 },
      { type: 'ack', offset: 5120 },
    ]);
    assert.ok(
      acks.every((ack) => ack.offset <= 5120),
      'never beyond what was sent',
    );
  });
});
