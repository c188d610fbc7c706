// Resizing the terminal: both formats change the pty's size, the shell sees SIGWINCH, and the
// resize itself never reaches the shell as input.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeLegacyResize } from '../../src/protocol/legacy.js';
import { LegacyClient, V1Client } from '../helpers/clients.js';
import { expectNothingLeft, takeBaseline, type Baseline } from '../helpers/handler-leaks.js';
import { startHandlerServer, type HandlerServer } from '../helpers/handler-server.js';
import { closeOf, typeAndMatch } from '../helpers/handler-shell.js';
import { waitFor } from '../helpers/wait-for.js';

/** What `stty size` says, as `ROWS COLS`. */
async function sttySize(client: LegacyClient | V1Client): Promise<string> {
  const match = await typeAndMatch(client, 'echo "size=$(stty size):"', /size=(\d+ \d+):/);
  return match[1] as string;
}

type Client = LegacyClient | V1Client;
const FORMATS: ReadonlyArray<{
  name: string;
  open: (url: string) => Client;
  resize: (client: Client, rows: number, cols: number) => void;
}> = [
  {
    name: 'legacy',
    open: (url) => new LegacyClient(url),
    resize: (client, rows, cols) => (client as LegacyClient).resize(rows, cols),
  },
  {
    name: 'v1',
    open: (url) => new V1Client(url),
    resize: (client, rows, cols) => (client as V1Client).resize(cols, rows),
  },
];

let baseline: Baseline;
let server: HandlerServer;
before(async () => {
  baseline = takeBaseline();
  server = await startHandlerServer();
});
after(async () => {
  await server.close();
  await expectNothingLeft(baseline);
});

for (const format of FORMATS) {
  describe(`a ${format.name} resize`, () => {
    it('changes the size `stty size` reports', async () => {
      const client = format.open(server.url);
      await client.opened;
      assert.equal(await sttySize(client), '24 80');
      format.resize(client, 40, 100);
      assert.equal(await sttySize(client), '40 100');
      client.close();
      await closeOf(client);
    });

    it('is not written to the shell as input', async () => {
      const client = format.open(server.url);
      await client.opened;
      // `read` takes the next line of input; a resize written to the pty would land in it. Wait
      // for `reading=42:` first: typed ahead of bash's switch to line mode, `hello\r` could be
      // taken as raw input without a line end.
      await typeAndMatch(
        client,
        'echo "reading=$((6*7)):"; IFS= read -r line; printf "got=%q:%d\\n" "$line" $((6*7))',
        /reading=42:/,
      );
      format.resize(client, 30, 90);
      client.sendInput('hello\r');
      // `:42` follows only the printed answer, never the echoed command line.
      const match = await waitFor(() => /got=(.*):42\r\n/.exec(client.text()), {
        message: 'the line `read` took',
      });
      assert.equal(match[1], 'hello');
      assert.equal(await sttySize(client), '30 90');
      client.close();
      await closeOf(client);
    });

    it('sends the shell SIGWINCH', async () => {
      const client = format.open(server.url);
      await client.opened;
      await typeAndMatch(
        client,
        `trap 'echo "winch=$(stty size):"' WINCH; echo trap-set-$((1+1))`,
        /trap-set-2/,
      );
      format.resize(client, 33, 77);
      await client.waitForText('winch=33 77:');
      client.close();
      await closeOf(client);
    });

    it('is clamped to 2000 x 1000 and at least 1 x 1, and the shell keeps running', async () => {
      const client = format.open(server.url);
      await client.opened;
      format.resize(client, 65535, 65535);
      assert.equal(await sttySize(client), '1000 2000');
      if (format.name === 'legacy') {
        // v1 refuses 0 as a protocol error (see protocol-errors); the legacy escape can carry it.
        (client as LegacyClient).sendInput(encodeLegacyResize(0, 0));
        assert.equal(await sttySize(client), '1 1');
        (client as LegacyClient).sendInput(encodeLegacyResize(99999, 99999));
        assert.equal(await sttySize(client), '1000 2000');
      }
      format.resize(client, 1, 1);
      assert.equal(await sttySize(client), '1 1');
      client.close();
      await closeOf(client);
    });
  });
}

describe('the v1 hello', () => {
  it('sets the size the shell starts with', async () => {
    const client = new V1Client(server.url, { cols: 123, rows: 45 });
    await client.opened;
    assert.equal(await sttySize(client), '45 123');
    client.close();
    await closeOf(client);
  });

  it('clamps a size above 2000 x 1000', async () => {
    const client = new V1Client(server.url, { cols: 65535, rows: 65535 });
    await client.opened;
    assert.equal(await sttySize(client), '1000 2000');
    client.close();
    await closeOf(client);
  });
});
