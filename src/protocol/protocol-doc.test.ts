// Holds docs/protocol.md to src/protocol/v1.ts: type bytes, hello fields and the hex examples.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  ClientType,
  SUBPROTOCOL_V1,
  ServerType,
  decodeClientMessage,
  decodeServerMessage,
  type ClientHello,
  type ServerHello,
} from './v1.js';

const DOC = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

/** The lines of the section under `heading` (up to the next heading of the same or higher level). */
function section(heading: string): string[] {
  const lines = DOC.split('\n');
  const start = lines.indexOf(heading);
  assert.notEqual(start, -1, `docs/protocol.md has no heading ${JSON.stringify(heading)}`);
  const level = /^#+/.exec(heading)?.[0].length ?? 0;
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((line) => {
    const hashes = /^(#+) /.exec(line)?.[1];
    return hashes !== undefined && hashes.length <= level;
  });
  return end < 0 ? rest : rest.slice(0, end);
}

/** `| \`0x00\` | HELLO | ...` rows → { HELLO: 0 }. */
function typeTable(lines: string[]): Record<string, number> {
  const types: Record<string, number> = {};
  for (const line of lines) {
    const match = /^\|\s*`0x([0-9a-fA-F]{2})`\s*\|\s*([A-Z_]+)\s*\|/.exec(line);
    if (match !== null) {
      types[match[2] ?? ''] = Number.parseInt(match[1] ?? '', 16);
    }
  }
  return types;
}

/** The first column of a field table whose header row starts with `| field |`. */
function fieldTable(lines: string[], header: string): string[] {
  const start = lines.findIndex((line) => line.startsWith(header));
  assert.notEqual(start, -1, `no table with header ${JSON.stringify(header)}`);
  const fields: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) {
      break;
    }
    const cell = line.split('|')[1] ?? '';
    for (const name of cell.matchAll(/`([\w.]+)`/g)) {
      fields.push(name[1] ?? '');
    }
  }
  return fields;
}

/** Key paths of an object, nested objects flattened as `limits.ackBytes`. */
function keyPaths(value: object, prefix = ''): string[] {
  return Object.entries(value).flatMap(([key, inner]) =>
    typeof inner === 'object' && inner !== null
      ? keyPaths(inner as object, `${prefix}${key}.`)
      : [`${prefix}${key}`],
  );
}

interface HexExample {
  readonly bytes: Uint8Array;
  readonly name: string;
  readonly argument: string;
}

/** Lines such as `01 6c 73 0d      INPUT "ls\r"` in the code blocks of a section. */
function hexExamples(lines: string[]): HexExample[] {
  const examples: HexExample[] = [];
  for (const line of lines) {
    const match = /^((?:[0-9a-f]{2} )+)\s*([A-Z]+) (.+)$/.exec(line);
    if (match !== null) {
      const bytes = Uint8Array.from(match[1]?.trim().split(' ') ?? [], (pair) =>
        Number.parseInt(pair, 16),
      );
      examples.push({ bytes, name: match[2] ?? '', argument: match[3] ?? '' });
    }
  }
  return examples;
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

describe('docs/protocol.md', () => {
  const clientSection = section('### Client → server');
  const serverSection = section('### Server → client');

  it('names the subprotocol the code offers', () => {
    assert.ok(DOC.includes(`## v1 (\`${SUBPROTOCOL_V1}\`)`), `no heading for ${SUBPROTOCOL_V1}`);
  });

  it('lists exactly the client message types of ClientType, with their bytes', () => {
    assert.deepEqual(typeTable(clientSection), { ...ClientType });
  });

  it('lists exactly the server message types of ServerType, with their bytes', () => {
    assert.deepEqual(typeTable(serverSection), { ...ServerType });
  });

  it('keeps client types below 0x80 and server types from 0x80, so a dump shows direction', () => {
    for (const [name, byte] of Object.entries(ClientType)) {
      assert.ok(byte < 0x80, `client ${name} is 0x${byte.toString(16)}`);
    }
    for (const [name, byte] of Object.entries(ServerType)) {
      assert.ok(byte >= 0x80 && byte <= 0xff, `server ${name} is 0x${byte.toString(16)}`);
    }
  });

  it('documents every field of the client hello, and no other', () => {
    // Required<> makes the compiler insist that this sample has every field ClientHello has.
    const sample: Required<ClientHello> = {
      cols: 80,
      rows: 24,
      credential: '',
      resume: { sessionId: '', offset: 0 },
      attach: '',
      events: false,
      share: '',
      snapshot: false,
    };
    assert.deepEqual(
      fieldTable(clientSection, '| field |').sort(),
      Object.keys(sample).sort(),
      'the client HELLO field table',
    );
  });

  it('documents every field of the server hello and its limits, and no other', () => {
    const sample: Required<ServerHello> = {
      sessionId: '',
      serverVersion: '',
      offset: 0,
      resumed: false,
      lostBytes: 0,
      liveOffset: 0,
      limits: {
        maxMessageBytes: 0,
        ackBytes: 0,
        highWaterBytes: 0,
        replayBufferBytes: 0,
        resumeWindowSeconds: 0,
        heartbeatSeconds: 0,
      },
      role: 'owner',
      cols: 0,
      rows: 0,
      snapshot: false,
    };
    assert.deepEqual(
      fieldTable(serverSection, '| field |').sort(),
      keyPaths(sample).sort(),
      'the server HELLO field table',
    );
  });

  describe('hex examples decode to the message written beside them', () => {
    const client = hexExamples(clientSection);
    const server = hexExamples(serverSection);

    it('has examples for every client message type and for OUTPUT and EXIT', () => {
      assert.deepEqual(
        client.map((example) => example.name).sort(),
        Object.keys(ClientType).sort(),
      );
      assert.deepEqual(server.map((example) => example.name).sort(), ['EXIT', 'OUTPUT']);
    });

    for (const example of [...client, ...server]) {
      it(`${example.name} ${example.argument}`, () => {
        if (client.includes(example)) {
          assert.equal(example.bytes[0], ClientType[example.name as keyof typeof ClientType]);
          const message = decodeClientMessage(example.bytes);
          switch (message.type) {
            case 'hello':
              assert.deepEqual(message.hello, JSON.parse(example.argument));
              return;
            case 'input':
              assert.equal(text(message.data), JSON.parse(example.argument));
              return;
            case 'resize':
              assert.equal(`cols ${message.cols}, rows ${message.rows}`, example.argument);
              return;
            case 'ack':
              assert.equal(`offset ${message.offset}`, example.argument);
              return;
          }
        }
        assert.equal(example.bytes[0], ServerType[example.name as keyof typeof ServerType]);
        const message = decodeServerMessage(example.bytes);
        switch (message.type) {
          case 'output':
            assert.equal(text(message.data), JSON.parse(example.argument));
            return;
          case 'exit':
            assert.deepEqual(message.status, JSON.parse(example.argument));
            return;
          default:
            assert.fail(`no check for a ${message.type} example`);
        }
      });
    }
  });
});
