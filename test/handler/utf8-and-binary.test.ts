// Output arrives exact: multi-byte UTF-8 split across pty reads stays whole in the legacy text
// format, and v1 carries any byte sequence unchanged.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import { closeOf } from '../helpers/handler-shell.js';
import {
  mixedUtf8,
  randomBytesSeeded,
  sha256,
  shellQuote,
  TempDir,
} from '../helpers/handler-data.js';
import { expectNothingLeft, takeBaseline, type Baseline } from '../helpers/handler-leaks.js';
import { startServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait-for.js';

let baseline: Baseline;
let temp: TempDir;
before(() => {
  baseline = takeBaseline();
  temp = new TempDir();
});
after(async () => {
  temp.dispose();
  await expectNothingLeft(baseline);
});

/**
 * A shell command that writes `path` to the pty unchanged (`stty raw` turns off output
 * processing such as LF -> CR LF; `cat` passes bytes as they are), then exits 0 on a keypress.
 * Waiting keeps these tests about the bytes: output cut off by an exit is exit-drain.test.ts.
 */
function catRaw(path: string): string[] {
  return ['/bin/sh', '-c', `stty raw -echo && cat ${shellQuote(path)} && head -c 1 >/dev/null`];
}

/** Waits for `bytes` of output, presses a key so the shell exits, and waits for the close. */
async function receiveAll(client: LegacyClient | V1Client, bytes: number) {
  await waitFor(() => client.outputLength >= bytes, {
    message: `${bytes} bytes of output (have ${client.outputLength})`,
  });
  client.sendInput('q');
  assert.deepEqual(await closeOf(client), { code: 1000, reason: 'shell exit code 0' });
}

describe('the legacy format', () => {
  it('delivers 200 KB of mixed 2-, 3- and 4-byte characters identical, with no U+FFFD', async () => {
    const text = mixedUtf8(200 * 1024, 0x5eed);
    const path = temp.file('mixed.txt', text);
    const server = await startServer({ auth: 'none', userShellCommand: catRaw(path) });
    try {
      const client = new LegacyClient(server.wsUrl);
      await receiveAll(client, Buffer.byteLength(text));
      // Each frame on its own is whole characters: a split one would decode as U+FFFD here.
      const bad = client.frames.findIndex((frame) => frame.includes('\uFFFD'));
      assert.equal(bad, -1, `frame ${bad} of ${client.frames.length} holds U+FFFD`);
      assert.ok(client.frames.length > 1, 'the text came in several frames (pty reads)');
      assert.equal(client.frames.join('') === text, true, 'the text arrived identical');
    } finally {
      await server.close();
    }
  });
});

describe('the v1 format', () => {
  it('delivers all 256 byte values unchanged', async () => {
    // Every value once ascending and once descending, so each byte follows two different ones.
    const up = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const all = Buffer.concat([up, Buffer.from(up).reverse()]);
    const path = temp.file('all-bytes.bin', all);
    const server = await startServer({ auth: 'none', userShellCommand: catRaw(path) });
    try {
      const client = new V1Client(server.wsUrl);
      await receiveAll(client, all.length);
      assert.deepEqual(client.output(), all);
      assert.deepEqual(client.exit, { code: 0, signal: null });
    } finally {
      await server.close();
    }
  });

  it('delivers a 5 MB random binary file byte-exact (sha256)', async () => {
    const data = randomBytesSeeded(5 * 1024 * 1024, 0xb17e5);
    const path = temp.file('random.bin', data);
    const server = await startServer({ auth: 'none', userShellCommand: catRaw(path) });
    try {
      const client = new V1Client(server.wsUrl);
      await receiveAll(client, data.length);
      assert.equal(client.outputLength, data.length);
      assert.equal(sha256(client.output()), sha256(data));
    } finally {
      await server.close();
    }
  });
});
